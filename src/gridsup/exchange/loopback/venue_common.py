"""What the loopback's OKX, Bybit and Kraken dialects share: the paper state behind
them, venue symbols, decimal text, and the order/trade look-ups by id or client id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

from aiohttp import web

from gridsup.exchange.errors import OrderNotFound
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import DayStats, LoopbackState
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = [
    "LIMIT_RETRY_AT",
    "PASSPHRASES",
    "decimal_param",
    "find_order",
    "market_day",
    "num",
    "order_type",
    "orders_of",
    "side_of",
    "spec_by",
    "trades_of",
]

PASSPHRASES: web.AppKey[dict[str, str]] = web.AppKey("loopback_passphrases", dict)
# Request key: a handler's own refusal for the rate (Kraken's order counter) says when a
# retry is first admitted (ms), for the request log.
LIMIT_RETRY_AT: web.RequestKey[int] = web.RequestKey("loopback_limit_retry_at", int)


def num(value: Decimal | None) -> str:
    """Plain decimal text, never an exponent ("" for None)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f") if value else "0"
    return text


def decimal_param(raw: object) -> Decimal | None:
    """A positive finite decimal from a request field; None when absent or malformed."""
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def spec_by(
    state: LoopbackState, venue_id: str | None, venue_symbol: Callable[[SymbolSpec], str]
) -> SymbolSpec | None:
    """The market whose venue id is ``venue_id`` (None if none)."""
    if not venue_id:
        return None
    for spec in state.specs.values():
        if venue_symbol(spec) == venue_id:
            return spec
    return None


def find_order(
    state: LoopbackState, order_id: str | None, client_id: str | None, spec: SymbolSpec | None
) -> Order | None:
    """The order by id or client id (of ``spec``'s market if given); None if unknown."""
    if not order_id and not client_id:
        return None
    try:
        order = state.paper.fetch_order(order_id or None, client_id or None)
    except OrderNotFound:
        return None
    if spec is not None and order.symbol != spec.symbol:
        return None
    return order


def orders_of(state: LoopbackState, spec: SymbolSpec | None, *, open_: bool) -> list[Order]:
    """The account's open (or finished) orders, of one market or all."""
    if open_:
        return state.paper.open_orders(spec.symbol if spec else None)
    return [
        o
        for o in state.paper.orders()
        if o.status is not OrderStatus.OPEN and (spec is None or o.symbol == spec.symbol)
    ]


def market_day(state: LoopbackState, spec: SymbolSpec) -> tuple[Decimal, DayStats]:
    """The market's last price (0 before any) and its last 24 hours, for a ticker."""
    last = state.paper.last_price(spec.symbol) or Decimal(0)
    return last, state.day_stats(spec.id, last, state.clock())


def trades_of(state: LoopbackState, specs: Iterable[SymbolSpec]) -> list[Trade]:
    result: list[Trade] = []
    for spec in specs:
        result += state.paper.trades(spec.symbol)
    return sorted(result, key=lambda t: (t.timestamp, t.id))


def order_type(text: str) -> OrderType | None:
    return {"limit": OrderType.LIMIT, "market": OrderType.MARKET}.get(text.lower())


def side_of(text: str) -> Side | None:
    return {"buy": Side.BUY, "sell": Side.SELL}.get(text.lower())
