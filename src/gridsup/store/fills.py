"""``FillRepository``: every execution once, however often it is delivered.

The key is (exchange, symbol, trade_id): exchanges like Binance number trades per
symbol, so the same trade id exists on BTC/USDT and on ETH/USDT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, localcontext
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.messages.common import Side
from gridsup.store.models import Fill, utcnow
from gridsup.store.records import FillRecord
from gridsup.store.sql import (
    MONEY_CONTEXT,
    Where,
    cached_statement,
    execute_core,
    given,
    insert_ignoring,
)

_TABLE = Fill.__table__
FillKey = tuple[str, str, str]  # (exchange, symbol, trade id)


def fill_row(record: FillRecord) -> dict[str, Any]:
    """The row of ``record``: its fields are the table's columns, plus the bookkeeping."""
    now = utcnow()
    return {**msgspec.structs.asdict(record), "created_at": now, "updated_at": now}


def new_fills_statement(where: Where) -> Any:
    """The insert of fills that returns the keys it stored (a fill stored before is
    skipped, and not returned)."""
    return cached_statement(
        where,
        "fills.add_new",
        lambda: insert_ignoring(
            where, "fills.add", _TABLE, "exchange", "symbol", "trade_id"
        ).returning(_TABLE.c.exchange, _TABLE.c.symbol, _TABLE.c.trade_id),
    )


class FillRepository:
    """Fills, idempotent by (exchange, symbol, trade_id). Works inside the caller's
    session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        return insert_ignoring(self.session, "fills.add", _TABLE, "exchange", "symbol", "trade_id")

    async def add(self, record: FillRecord) -> bool:
        """Store the fill; False when it was stored already (a redelivery)."""
        result = await execute_core(self.session, self._insert(), fill_row(record))
        return bool(getattr(result, "rowcount", 0))

    async def add_new(self, records: Iterable[FillRecord]) -> set[FillKey]:
        """Store fills in one statement; returns the keys stored now (a fill stored
        before is skipped and not among them: the insert itself tells)."""
        rows = [fill_row(r) for r in records]
        if not rows:
            return set()
        result = await execute_core(self.session, new_fills_statement(self.session), rows)
        return {(exchange, symbol, trade_id) for exchange, symbol, trade_id in result}

    async def add_many(self, records: Iterable[FillRecord]) -> None:
        """Store many fills in one statement; the ones already stored are skipped."""
        rows = [fill_row(r) for r in records]
        if rows:
            await execute_core(self.session, self._insert(), rows)

    async def get(self, exchange: str, symbol: str, trade_id: str) -> Fill | None:
        stmt = select(Fill).where(
            Fill.exchange == exchange, Fill.symbol == symbol, Fill.trade_id == trade_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def for_order(self, exchange: str, client_order_id: str) -> Sequence[Fill]:
        """The fills of one order, in time order."""
        stmt = (
            select(Fill)
            .where(Fill.exchange == exchange, Fill.client_order_id == client_order_id)
            .order_by(Fill.timestamp, Fill.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def history(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> Sequence[Fill]:
        """Fills matching every given filter, newest first."""
        stmt = select(Fill).filter_by(**given(strategy=strategy, symbol=symbol))
        if since is not None:
            stmt = stmt.where(Fill.timestamp >= since)
        stmt = stmt.order_by(Fill.timestamp.desc(), Fill.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def asset_flows(
        self, *, strategy: str | None = None, symbol: str | None = None
    ) -> AssetFlows:
        """What the stored fills moved the account by, per asset, and the fees by the
        asset they were charged in (a fill without a fee currency pays in quote).

        Exact (80-digit context): summed over a whole run it equals the exchange's own
        balance change, fees in base and in BNB included.
        """
        stmt = select(
            Fill.symbol, Fill.side, Fill.price, Fill.amount, Fill.fee, Fill.fee_currency
        ).filter_by(**given(strategy=strategy, symbol=symbol))
        change: dict[str, Decimal] = {}
        fees: dict[str, Decimal] = {}
        zero = Decimal(0)
        with localcontext(MONEY_CONTEXT):
            for row in (await self.session.execute(stmt)).all():
                base, _, quote = row.symbol.partition("/")
                sign = 1 if row.side is Side.BUY else -1
                change[base] = change.get(base, zero) + sign * row.amount
                change[quote] = change.get(quote, zero) - sign * row.price * row.amount
                if row.fee:
                    asset = row.fee_currency or quote
                    change[asset] = change.get(asset, zero) - row.fee
                    fees[asset] = fees.get(asset, zero) + row.fee
        return AssetFlows(
            balance_change={a: _trimmed(v) for a, v in change.items()},
            fees={a: _trimmed(v) for a, v in fees.items()},
        )


class AssetFlows(msgspec.Struct, frozen=True, kw_only=True):
    """Per asset: the balance change the fills imply, and the fees paid in it."""

    balance_change: dict[str, Decimal]
    fees: dict[str, Decimal]


def _trimmed(value: Decimal) -> Decimal:
    """``value`` without trailing zeros (55000 stays 55000, not 5.5E+4)."""
    trimmed = value.normalize(MONEY_CONTEXT)
    exponent = trimmed.as_tuple().exponent
    return trimmed.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else trimmed
