"""Answer groups: a question's grouping state, its groups and their members; overrides can
be reverted (a revert row names the override it undid).

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "f6a7b8c9d0e1"
down_revision: str | None = "e5f6a7b8c9d0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _scope_columns(table: str) -> list[Any]:
    return [
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"],
            name=f"fk_{table}_organization_id_organization", ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=f"fk_{table}_course_id_course", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["rubric_version_id"], ["rubric_version.id"],
            name=f"fk_{table}_rubric_version_id_rubric_version", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["question.id"], name=f"fk_{table}_question_id_question",
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "answer_grouping",
        sa.Column("question_id", sa.String(length=64), nullable=False),
        *_scope_columns("answer_grouping"),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("question_id", name="pk_answer_grouping"),
    )
    op.create_index("ix_answer_grouping_stale_at", "answer_grouping", ["stale_at"])
    op.create_table(
        "answer_group",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        *_scope_columns("answer_group"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("representative_submission_id", sa.Uuid(), nullable=True),
        sa.Column("is_manual", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["representative_submission_id"], ["submission.id"],
            name="fk_answer_group_representative_submission_id_submission", ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_answer_group"),
    )
    op.create_index(
        "ix_answer_group_question_id_position", "answer_group", ["question_id", "position"]
    )
    op.create_table(
        "answer_group_member",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("is_pinned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("criteria_met", sa.JSON(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"],
            name="fk_answer_group_member_submission_id_submission", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["answer_group.id"],
            name="fk_answer_group_member_group_id_answer_group", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["question.id"],
            name="fk_answer_group_member_question_id_question", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name="pk_answer_group_member"),
        sa.UniqueConstraint(
            "question_id", "submission_id", name="uq_answer_group_member_question_id_submission_id"
        ),
    )
    op.create_index("ix_answer_group_member_group_id", "answer_group_member", ["group_id"])
    with op.batch_alter_table("score_override", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reverts_override_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("answer_group_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            "fk_score_override_reverts_override_id_score_override",
            "score_override",
            ["reverts_override_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("score_override", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_score_override_reverts_override_id_score_override", type_="foreignkey"
        )
        batch_op.drop_column("answer_group_id")
        batch_op.drop_column("reverts_override_id")
    op.drop_index("ix_answer_group_member_group_id", table_name="answer_group_member")
    op.drop_table("answer_group_member")
    op.drop_index("ix_answer_group_question_id_position", table_name="answer_group")
    op.drop_table("answer_group")
    op.drop_index("ix_answer_grouping_stale_at", table_name="answer_grouping")
    op.drop_table("answer_grouping")
