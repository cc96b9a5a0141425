"""Scoring retries: a pending submission is retried by the worker with backoff, and one that
keeps failing becomes ``error`` with a short, safe reason.

Revision ID: c3b4a5d6e7f8
Revises: 0c1d2e3f4a5b
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3b4a5d6e7f8"
down_revision: str | None = "0c1d2e3f4a5b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scoring_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("next_scoring_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("scoring_error", sa.String(length=200), nullable=True))
        batch_op.drop_constraint(op.f("ck_submission_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('pending', 'scored', 'error')")
        batch_op.create_index(
            "ix_submission_status_next_scoring_at", ["status", "next_scoring_at"], unique=False
        )


def downgrade() -> None:
    # Submissions that gave up go back to pending: the old schema knows no ``error``, and
    # pending is what they were before (the start-up retry scores them again).
    op.execute("UPDATE submission SET status = 'pending' WHERE status = 'error'")
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_index("ix_submission_status_next_scoring_at")
        batch_op.drop_constraint(op.f("ck_submission_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('pending', 'scored')")
        batch_op.drop_column("scoring_error")
        batch_op.drop_column("next_scoring_at")
        batch_op.drop_column("scoring_attempts")
