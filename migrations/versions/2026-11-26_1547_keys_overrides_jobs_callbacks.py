"""API keys and roles, idempotency records, score overrides, rescoring jobs, callbacks.

Submissions gain the key that posted them, a feedback token for students, and their
effective score (so lists can filter and sort in SQL), backfilled from existing results.

Revision ID: c5716d68616e
Revises: 0f8a9e10dd15
Create Date: 2026-11-26 15:47:35.499695
"""

from collections.abc import Sequence

import secrets

import sqlalchemy as sa
from alembic import op

revision: str = "c5716d68616e"
down_revision: str | None = "0f8a9e10dd15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_url", sa.String(length=2048), nullable=True),
        sa.Column("callback_secret", sa.String(length=256), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'instructor', 'integration')", name=op.f("ck_api_key_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "idempotency_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_idempotency_record_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("api_key_id", "key", name=op.f("uq_idempotency_record_api_key_id_key")),
    )
    op.create_table(
        "callback_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_callback_delivery_status")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_callback_delivery_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_callback_delivery_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_delivery")),
    )
    with op.batch_alter_table("callback_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callback_delivery_status_next_attempt_at",
            ["status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index("ix_callback_delivery_submission_id", ["submission_id"], unique=False)

    op.create_table(
        "rescore_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column(
            "rubric_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cursor_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_rescore_job_status"),
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_rescore_job_api_key_id_api_key"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_rescore_job_question_id_question"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rubric_version_id"],
            ["rubric_version.id"],
            name=op.f("fk_rescore_job_rubric_version_id_rubric_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescore_job")),
    )
    with op.batch_alter_table("rescore_job", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rescore_job_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "score_override",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("old_points", sa.Float(), nullable=True),
        sa.Column("new_points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_score_override_api_key_id_api_key"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_score_override_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_override")),
    )
    with op.batch_alter_table("score_override", schema=None) as batch_op:
        batch_op.create_index(
            "ix_score_override_submission_id_id", ["submission_id", "id"], unique=False
        )

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_key_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("feedback_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("points", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("machine_points", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("max_points", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("is_overridden", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_submission_api_key_id_created_at", ["api_key_id", "created_at"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_submission_feedback_token"), ["feedback_token"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_submission_api_key_id_api_key"),
            "api_key",
            ["api_key_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    _backfill_submissions()


def _backfill_submissions() -> None:
    """Effective score = newest machine result (no overrides exist yet); a feedback token each."""
    latest = (
        "(SELECT r.{column} FROM grading_result r WHERE r.submission_id = submission.id "
        "ORDER BY r.id DESC LIMIT 1)"
    )
    op.execute(
        "UPDATE submission SET "
        f"points = {latest.format(column='points')}, "
        f"machine_points = {latest.format(column='points')}, "
        f"max_points = {latest.format(column='max_points')}"
    )
    connection = op.get_bind()
    submission = sa.table("submission", sa.column("id", sa.Uuid()), sa.column("feedback_token"))
    ids = connection.execute(sa.select(submission.c.id)).scalars().all()
    for submission_id in ids:
        connection.execute(
            submission.update()
            .where(submission.c.id == submission_id)
            .values(feedback_token=secrets.token_urlsafe(32))
        )


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_submission_api_key_id_api_key"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_submission_feedback_token"), type_="unique")
        batch_op.drop_index("ix_submission_api_key_id_created_at")
        batch_op.drop_column("is_overridden")
        batch_op.drop_column("needs_review")
        batch_op.drop_column("max_points")
        batch_op.drop_column("machine_points")
        batch_op.drop_column("points")
        batch_op.drop_column("feedback_token")
        batch_op.drop_column("api_key_id")

    with op.batch_alter_table("score_override", schema=None) as batch_op:
        batch_op.drop_index("ix_score_override_submission_id_id")

    op.drop_table("score_override")
    with op.batch_alter_table("rescore_job", schema=None) as batch_op:
        batch_op.drop_index("ix_rescore_job_status_created_at")

    op.drop_table("rescore_job")
    with op.batch_alter_table("callback_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_delivery_submission_id")
        batch_op.drop_index("ix_callback_delivery_status_next_attempt_at")

    op.drop_table("callback_delivery")
    op.drop_table("idempotency_record")
    op.drop_table("api_key")
