"""Rows for ``gridsup export``: every fill and every closed round trip, in time order, with
the fee's asset, its value in quote, the cost basis and the realized profit.

Money stays ``Decimal`` (the command writes it as exact text, or as Parquet decimals).
A fee charged in a third currency (BNB) has no quote value unless its price is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.messages.common import Side
from gridsup.store.models import Fill, Trade
from gridsup.store.sql import MONEY_CONTEXT, given


@dataclass(frozen=True, slots=True)
class FillRow:
    timestamp: int  # ms since the epoch, UTC
    strategy: str | None
    exchange: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    value: Decimal  # amount * price, in quote
    fee: Decimal
    fee_asset: str | None
    fee_quote: Decimal | None  # the fee's value in quote (None: unknown)
    client_order_id: str | None
    order_id: str | None
    trade_id: str
    taker: bool


@dataclass(frozen=True, slots=True)
class RoundTripRow:
    id: int
    strategy: str
    exchange: str
    symbol: str
    side: str  # the entry's side (a grid buys, then sells)
    amount: Decimal
    opened_at: int  # ms
    open_price: Decimal
    open_order_id: str | None
    closed_at: int  # ms
    close_price: Decimal
    close_order_id: str | None
    cost_basis: Decimal  # quote paid for the base (sells first: quote to buy it back)
    proceeds: Decimal  # quote received for it
    fee: Decimal  # both legs
    fee_asset: str  # the quote asset: the store books round-trip fees in quote
    fee_quote: Decimal
    realized_profit: Decimal  # proceeds - cost_basis - fee


def quote_of(symbol: str) -> str:
    return symbol.partition("/")[2].partition(":")[0]


def base_of(symbol: str) -> str:
    return symbol.partition("/")[0]


def fee_in_quote(
    symbol: str, price: Decimal, fee: Decimal, asset: str | None, prices: Mapping[str, Decimal]
) -> Decimal | None:
    """A fill's fee in its quote asset: as is when charged in quote, at the fill's price
    in base, at ``prices[asset]`` (quote per unit) in a third currency, else unknown."""
    if fee == 0:
        return Decimal(0)
    with localcontext(MONEY_CONTEXT):
        if asset is None or asset == quote_of(symbol):
            return fee
        if asset == base_of(symbol):
            return fee * price
        if asset in prices:
            return fee * prices[asset]
    return None


async def fill_rows(
    session: AsyncSession,
    *,
    strategy: str | None = None,
    symbol: str | None = None,
    fee_prices: Mapping[str, Decimal] | None = None,
) -> list[FillRow]:
    """Every stored fill matching the filters, oldest first."""
    prices = fee_prices or {}
    stmt = (
        select(Fill)
        .filter_by(**given(strategy=strategy, symbol=symbol))
        .order_by(Fill.timestamp, Fill.id)
    )
    out: list[FillRow] = []
    for f in (await session.execute(stmt)).scalars():
        with localcontext(MONEY_CONTEXT):
            value = f.amount * f.price
        out.append(
            FillRow(
                timestamp=f.timestamp,
                strategy=f.strategy,
                exchange=f.exchange,
                symbol=f.symbol,
                side=f.side.value,
                amount=f.amount,
                price=f.price,
                value=value,
                fee=f.fee,
                fee_asset=f.fee_currency,
                fee_quote=fee_in_quote(f.symbol, f.price, f.fee, f.fee_currency, prices),
                client_order_id=f.client_order_id,
                order_id=f.exchange_order_id,
                trade_id=f.trade_id,
                taker=f.taker,
            )
        )
    return out


async def round_trip_rows(
    session: AsyncSession, *, strategy: str | None = None, symbol: str | None = None
) -> list[RoundTripRow]:
    """Every closed round trip matching the filters, by close time."""
    stmt = (
        select(Trade)
        .filter_by(**given(strategy=strategy, symbol=symbol, is_open=False))
        .order_by(Trade.closed_at, Trade.id)
    )
    return [_round_trip(t) for t in (await session.execute(stmt)).scalars()]


def _round_trip(t: Trade) -> RoundTripRow:
    assert t.close_price is not None and t.closed_at is not None
    with localcontext(MONEY_CONTEXT):
        bought, sold = t.amount * t.open_price, t.amount * t.close_price
        if t.side is Side.SELL:  # sold first, bought back later
            bought, sold = sold, bought
            profit = t.profit if t.profit is not None else sold - bought - t.fee
        elif t.profit is not None:
            # The base sold cost what the grid booked for it: with fees charged in base,
            # less arrives than was bought and the sell carries a share of the dust's
            # cost too (docs/strategies.md), so amount x open price is not its cost.
            profit, bought = t.profit, sold - t.fee - t.profit
        else:
            profit = sold - bought - t.fee
    return RoundTripRow(
        id=t.id,
        strategy=t.strategy,
        exchange=t.exchange,
        symbol=t.symbol,
        side=t.side.value,
        amount=t.amount,
        opened_at=t.opened_at,
        open_price=t.open_price,
        open_order_id=t.open_order_id,
        closed_at=t.closed_at,
        close_price=t.close_price,
        close_order_id=t.close_order_id,
        cost_basis=bought,
        proceeds=sold,
        fee=t.fee,
        fee_asset=quote_of(t.symbol),
        fee_quote=t.fee,
        realized_profit=profit,
    )


def totals(rows: Sequence[RoundTripRow]) -> dict[str, Decimal | int]:
    """What ``gridsup stats`` reports for the same round trips: count, profit, fees."""
    with localcontext(MONEY_CONTEXT):
        return {
            "trades": len(rows),
            "total_profit": sum((r.realized_profit for r in rows), Decimal(0)),
            "fees": sum((r.fee for r in rows), Decimal(0)),
        }
