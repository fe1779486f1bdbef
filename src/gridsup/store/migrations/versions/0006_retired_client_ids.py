"""retired_client_ids: the client ids a paper account's bounded history forgot

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridsup.store.coltypes import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_client_ids",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=True),
        sa.Column("cycle", sa.BigInteger(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account", "client_order_id", name=op.f("pk_retired_client_ids")),
    )
    op.create_index(
        "ix_retired_client_ids_account_slot_cycle",
        "retired_client_ids",
        ["account", "slot", "cycle"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_retired_client_ids_account_slot_cycle", table_name="retired_client_ids")
    op.drop_table("retired_client_ids")
