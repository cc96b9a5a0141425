"""Callback deliveries can be cancelled (callback changed or deleted, key revoked).

Revision ID: b1c2a11bac05
Revises: e7a1b0c3d2f4
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1c2a11bac05"
down_revision: str | None = "e7a1b0c3d2f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_callback_delivery_status"


def upgrade() -> None:
    with op.batch_alter_table("callback_delivery", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(
            op.f(NAME), "status IN ('pending', 'delivered', 'failed', 'cancelled')"
        )


def downgrade() -> None:
    # The old constraint has no 'cancelled': such rows were never sent, so 'failed' is the
    # closest old status (neither is retried).
    op.execute(
        sa.text("UPDATE callback_delivery SET status = 'failed' WHERE status = 'cancelled'")
    )
    with op.batch_alter_table("callback_delivery", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), "status IN ('pending', 'delivered', 'failed')")
