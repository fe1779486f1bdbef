"""``TradeRepository``: grid round trips (an entry, then the counter order's exit) and the
statistics the ``gridsup stats`` command shows.

Profit and its aggregates are computed with Decimal in Python, never with SQL ``SUM``
(SQLite would sum through float, and stores money as text; see ``coltypes``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal, localcontext
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.messages.common import Side
from gridsup.store.models import Trade, utcnow
from gridsup.store.records import TradeRecord
from gridsup.store.sql import (
    MONEY_CONTEXT,
    Where,
    cached_statement,
    execute_core,
    given,
    insert_ignoring,
)

_TABLE = Trade.__table__
_CHUNK = 500  # bound on IN (...) lists
# A closed trade's idempotency key: (exchange, strategy, close order's client id).
TradeKey = tuple[str, str, str]


class TradeNotFound(LookupError):
    """No trade has this id."""


class TradeAlreadyClosed(ValueError):
    """The trade was closed before; closing twice would book its profit twice."""


class TradeStats(msgspec.Struct, frozen=True, kw_only=True):
    """Figures over closed trades (``open_trades`` counts the others)."""

    trades: int
    open_trades: int
    wins: int
    losses: int
    win_rate: Decimal  # wins / trades, 0 when there is none
    total_profit: Decimal
    average_profit: Decimal
    max_win: Decimal | None
    max_loss: Decimal | None  # the most negative profit, None when nothing lost
    fees: Decimal  # over every trade, open ones included


def trade_profit(
    side: Side, amount: Decimal, open_price: Decimal, close_price: Decimal, fee: Decimal
) -> Decimal:
    """Net profit in quote currency of a round trip entered on ``side``."""
    with localcontext(MONEY_CONTEXT):
        gross = (close_price - open_price) * amount
        return (gross if side is Side.BUY else -gross) - fee


S = TypeVar("S", bound=Select)


def new_closed_statement(where: Where) -> Any:
    """The insert of closed trades that returns the keys it stored (a cycle booked before
    is skipped, and not returned)."""
    return cached_statement(
        where,
        "trades.add_closed_new",
        lambda: insert_ignoring(
            where, "trades.add_closed", _TABLE, "exchange", "strategy", "close_order_id"
        ).returning(_TABLE.c.exchange, _TABLE.c.strategy, _TABLE.c.close_order_id),
    )


def closed_rows(records: Iterable[TradeRecord]) -> list[dict[str, Any]]:
    now = utcnow()
    return [{**msgspec.structs.asdict(r), "created_at": now, "updated_at": now} for r in records]


def _filtered(
    stmt: S, *, strategy: str | None, symbol: str | None, since: int | None, until: int | None
) -> S:
    """``stmt`` narrowed to the given filters (``since``/``until`` on the open time, ms)."""
    stmt = stmt.filter_by(**given(strategy=strategy, symbol=symbol))
    if since is not None:
        stmt = stmt.where(Trade.opened_at >= since)
    if until is not None:
        stmt = stmt.where(Trade.opened_at < until)
    return stmt


class TradeRepository:
    """Trades of every strategy. Works inside the caller's session (transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        exchange: str,
        strategy: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        open_price: Decimal,
        opened_at: int,
        open_order_id: str | None = None,
        fee: Decimal = Decimal(0),
    ) -> Trade:
        """Open a trade (its entry filled); returns it with its id."""
        trade = Trade(
            exchange=exchange,
            strategy=strategy,
            symbol=symbol,
            side=side,
            amount=amount,
            open_price=open_price,
            opened_at=opened_at,
            open_order_id=open_order_id,
            fee=fee,
            is_open=True,
        )
        self.session.add(trade)
        await self.session.flush()
        return trade

    def _insert_closed(self) -> Any:
        return insert_ignoring(
            self.session, "trades.add_closed", _TABLE, "exchange", "strategy", "close_order_id"
        )

    async def add_closed_many(self, records: Iterable[TradeRecord]) -> None:
        """Store closed round trips (booked grid cycles) in one statement; a record whose
        (exchange, strategy, close_order_id) is stored already is skipped."""
        rows = closed_rows(records)
        if rows:
            await execute_core(self.session, self._insert_closed(), rows)

    async def add_closed_new(self, records: Iterable[TradeRecord]) -> set[TradeKey]:
        """As :meth:`add_closed_many`, returning the keys stored now (the insert itself
        tells a cycle booked before apart)."""
        rows = closed_rows(records)
        if not rows:
            return set()
        result = await execute_core(self.session, new_closed_statement(self.session), rows)
        return {(exchange, strategy, close_id) for exchange, strategy, close_id in result}

    async def known_closed(self, keys: Collection[TradeKey]) -> set[TradeKey]:
        """The subset of ``keys`` stored already."""
        by_grid: dict[tuple[str, str], list[str]] = {}
        for exchange, strategy, close_order_id in keys:
            by_grid.setdefault((exchange, strategy), []).append(close_order_id)
        known: set[TradeKey] = set()
        for (exchange, strategy), ids in by_grid.items():
            for i in range(0, len(ids), _CHUNK):
                stmt = select(Trade.close_order_id).where(
                    tuple_(Trade.exchange, Trade.strategy) == (exchange, strategy),
                    Trade.close_order_id.in_(ids[i : i + _CHUNK]),
                )
                known.update(
                    (exchange, strategy, c)
                    for c in await self.session.scalars(stmt)
                    if c is not None
                )
        return known

    async def get(self, trade_id: int) -> Trade | None:
        return await self.session.get(Trade, trade_id)

    async def close(
        self,
        trade_id: int,
        *,
        price: Decimal,
        closed_at: int,
        fee: Decimal = Decimal(0),
        close_order_id: str | None = None,
    ) -> Trade:
        """Close a trade at ``price``, adding the exit's ``fee``, and book its profit.

        Raises:
            TradeNotFound: no trade has this id.
            TradeAlreadyClosed: it was closed before.
        """
        stmt = select(Trade).where(Trade.id == trade_id).with_for_update()
        trade = (await self.session.execute(stmt)).scalar_one_or_none()
        if trade is None:
            raise TradeNotFound(f"no trade {trade_id}")
        if not trade.is_open:
            raise TradeAlreadyClosed(f"trade {trade_id} was closed at {trade.closed_at}")
        with localcontext(MONEY_CONTEXT):
            trade.fee = trade.fee + fee
        trade.close_price = price
        trade.closed_at = closed_at
        trade.close_order_id = close_order_id
        trade.profit = trade_profit(trade.side, trade.amount, trade.open_price, price, trade.fee)
        trade.is_open = False
        await self.session.flush()
        return trade

    async def open_trades(
        self, *, strategy: str | None = None, symbol: str | None = None
    ) -> Sequence[Trade]:
        return await self.history(strategy=strategy, symbol=symbol, is_open=True)

    async def history(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        is_open: bool | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> Sequence[Trade]:
        """Trades matching every given filter (``since``/``until`` on the open time, ms),
        newest first."""
        stmt = _filtered(
            select(Trade).filter_by(**given(is_open=is_open)),
            strategy=strategy,
            symbol=symbol,
            since=since,
            until=until,
        )
        stmt = stmt.order_by(Trade.opened_at.desc(), Trade.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def statistics(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> TradeStats:
        """Count, win rate, total/average profit, best and worst trade, fees."""
        stmt = _filtered(
            select(Trade.is_open, Trade.profit, Trade.fee),
            strategy=strategy,
            symbol=symbol,
            since=since,
            until=until,
        )
        rows = (await self.session.execute(stmt)).all()
        profits = [row.profit for row in rows if not row.is_open and row.profit is not None]
        wins = sum(1 for p in profits if p > 0)
        losses = sum(1 for p in profits if p < 0)
        with localcontext(MONEY_CONTEXT):
            total = sum(profits, Decimal(0))
            fees = sum((row.fee for row in rows), Decimal(0))
        # Quotients are figures for people: the default 28-digit context is plenty.
        count = len(profits)
        average = total / count if count else Decimal(0)
        win_rate = Decimal(wins) / count if count else Decimal(0)
        lowest = min(profits, default=None)
        return TradeStats(
            trades=count,
            open_trades=len(rows) - count,
            wins=wins,
            losses=losses,
            win_rate=win_rate,
            total_profit=total,
            average_profit=average,
            max_win=max(profits, default=None) if wins else None,
            max_loss=lowest if lowest is not None and lowest < 0 else None,
            fees=fees,
        )
