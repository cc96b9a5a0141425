"""Idempotency records name the submissions of their (sealed) response, so that deleting a
learner's data can find them.

Records from before carry an empty list: their sealed responses cannot be searched, and they
expire within the idempotency TTL (7 days by default) anyway.

Revision ID: 0c1d2e3f4a5b
Revises: a9e0c4d5b6f7
Create Date: 2026-12-02 06:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0c1d2e3f4a5b"
down_revision: str | None = "a9e0c4d5b6f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("submission_ids", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_column("submission_ids")
