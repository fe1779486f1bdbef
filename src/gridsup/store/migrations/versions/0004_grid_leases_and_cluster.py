"""grid leases with a fencing epoch, cluster members, grid pins; strategy_states.epoch

Revision ID: 0004
Revises: 0003_audit_log
Create Date: 2026-12-06 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridsup.store.coltypes import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("strategy_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "grid_leases",
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("renewed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("grid", name=op.f("pk_grid_leases")),
    )
    op.create_table(
        "cluster_members",
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("leaving", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("member", name=op.f("pk_cluster_members")),
    )
    op.create_table(
        "grid_pins",
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("pinned_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("grid", name=op.f("pk_grid_pins")),
    )


def downgrade() -> None:
    op.drop_table("grid_pins")
    op.drop_table("cluster_members")
    op.drop_table("grid_leases")
    with op.batch_alter_table("strategy_states", schema=None) as batch_op:
        batch_op.drop_column("epoch")
