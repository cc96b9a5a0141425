"""Feedback release (a question's review option) and feedback links stored as hashes.

Questions get ``feedback_release`` ("immediately" for every existing question, so nothing
changes for them), ``feedback_close_at`` and ``feedback_released_at``. Submissions keep only
the SHA-256 of their feedback token: existing tokens are hashed in place, so links already
handed to students keep working, and the plain column is dropped. The hashing runs in Python
(hashlib) so that it is the same on SQLite and PostgreSQL.

Downgrade cannot recover the plain tokens: it issues fresh ones, so links given out before
the downgrade stop working.

Revision ID: f1e2d3c4b5a6
Revises: b7c8d9e0f1a2
Create Date: 2026-12-02 06:00:00
"""

import hashlib
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1e2d3c4b5a6"
down_revision: str | None = "b7c8d9e0f1a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "feedback_release",
                sa.String(length=16),
                server_default="immediately",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("feedback_close_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("feedback_released_at", UTC_DATETIME, nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_question_feedback_release"),
            "feedback_release IN ('immediately', 'after_close', 'manual')",
        )

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feedback_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("feedback_token_issued_at", UTC_DATETIME, nullable=True))

    _hash_tokens()

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_submission_feedback_token"), type_="unique")
        batch_op.drop_column("feedback_token")
        batch_op.create_unique_constraint(
            op.f("uq_submission_feedback_token_hash"), ["feedback_token_hash"]
        )


def _hash_tokens() -> None:
    """Each token becomes its SHA-256; its lifetime starts when the submission was made."""
    connection = op.get_bind()
    submission = sa.table(
        "submission",
        sa.column("id", sa.Uuid()),
        sa.column("feedback_token", sa.String()),
        sa.column("feedback_token_hash", sa.String()),
        sa.column("created_at", UTC_DATETIME),
        sa.column("feedback_token_issued_at", UTC_DATETIME),
    )
    rows = connection.execute(
        sa.select(submission.c.id, submission.c.feedback_token).where(
            submission.c.feedback_token.is_not(None)
        )
    ).all()
    for submission_id, token in rows:
        connection.execute(
            submission.update()
            .where(submission.c.id == submission_id)
            .values(
                feedback_token_hash=hashlib.sha256(token.encode()).hexdigest(),
                feedback_token_issued_at=submission.c.created_at,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_submission_feedback_token_hash"), type_="unique")
        batch_op.add_column(sa.Column("feedback_token", sa.String(length=64), nullable=True))

    connection = op.get_bind()
    submission = sa.table(
        "submission",
        sa.column("id", sa.Uuid()),
        sa.column("feedback_token", sa.String()),
        sa.column("feedback_token_hash", sa.String()),
    )
    ids = (
        connection.execute(
            sa.select(submission.c.id).where(submission.c.feedback_token_hash.is_not(None))
        )
        .scalars()
        .all()
    )
    for submission_id in ids:
        connection.execute(
            submission.update()
            .where(submission.c.id == submission_id)
            .values(feedback_token=secrets.token_urlsafe(32))
        )

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_column("feedback_token_issued_at")
        batch_op.drop_column("feedback_token_hash")
        batch_op.create_unique_constraint(
            op.f("uq_submission_feedback_token"), ["feedback_token"]
        )

    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_question_feedback_release"), type_="check")
        batch_op.drop_column("feedback_released_at")
        batch_op.drop_column("feedback_close_at")
        batch_op.drop_column("feedback_release")
