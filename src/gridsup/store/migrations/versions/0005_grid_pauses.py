"""grid_pauses: one row per grid paused on request, so a pause outlives restarts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridsup.store.coltypes import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grid_pauses",
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("paused_at", UTCDateTime(), nullable=False),
        sa.Column("paused_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("grid", name=op.f("pk_grid_pauses")),
    )


def downgrade() -> None:
    op.drop_table("grid_pauses")
