"""Grading results record their model (default or calibrated), confidence, needs-review
and advisories.

Revision ID: 98b9a82b8b5e
Revises: c5716d68616e
Create Date: 2026-11-26 16:29:39.232144
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "98b9a82b8b5e"
down_revision: str | None = "c5716d68616e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grading_result", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("model", sa.String(length=16), server_default="default", nullable=False)
        )
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("advisories", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("grading_result", schema=None) as batch_op:
        batch_op.drop_column("advisories")
        batch_op.drop_column("needs_review")
        batch_op.drop_column("confidence")
        batch_op.drop_column("model")
