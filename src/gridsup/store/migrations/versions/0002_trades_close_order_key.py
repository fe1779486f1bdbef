"""trades: unique (exchange, strategy, close_order_id), the key of a booked cycle

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(
            "uq_trades_exchange_strategy_close_order_id",
            ["exchange", "strategy", "close_order_id"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index("uq_trades_exchange_strategy_close_order_id")
