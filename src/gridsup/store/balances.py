"""``BalanceRepository``: snapshots of an account's balances over time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.exchange.types import Balance
from gridsup.store.models import BalanceSnapshot
from gridsup.store.sql import MONEY_CONTEXT


class BalanceRepository:
    """Balance snapshots. Works inside the caller's session (transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, exchange: str, balance: Balance, timestamp: int) -> int:
        """One snapshot row per asset of ``balance``; returns how many were written."""
        assets = sorted(balance.free.keys() | balance.used.keys())
        for asset in assets:
            free = balance.free.get(asset, 0)
            used = balance.used.get(asset, 0)
            self.session.add(
                BalanceSnapshot(
                    exchange=exchange,
                    asset=asset,
                    free=free,
                    used=used,
                    total=MONEY_CONTEXT.add(free, used),
                    timestamp=timestamp,
                )
            )
        await self.session.flush()
        return len(assets)

    async def latest(self, exchange: str) -> dict[str, BalanceSnapshot]:
        """The newest snapshot of every asset of ``exchange``."""
        newest = (
            select(BalanceSnapshot.asset, func.max(BalanceSnapshot.timestamp).label("ts"))
            .where(BalanceSnapshot.exchange == exchange)
            .group_by(BalanceSnapshot.asset)
            .subquery()
        )
        stmt = (
            select(BalanceSnapshot)
            .join(
                newest,
                (BalanceSnapshot.asset == newest.c.asset)
                & (BalanceSnapshot.timestamp == newest.c.ts),
            )
            .where(BalanceSnapshot.exchange == exchange)
            .order_by(BalanceSnapshot.id)
        )
        rows: Sequence[BalanceSnapshot] = (await self.session.execute(stmt)).scalars().all()
        return {row.asset: row for row in rows}
