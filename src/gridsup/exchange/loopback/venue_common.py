"""What the loopback's OKX, Bybit and Kraken dialects share: a ``VenueDialect`` (where a
venue's routes live, how it names a market, how it answers an error), the order a
request asks for, venue numbers and decimal text, and the look-ups of orders, trades and
balances in the paper state behind them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import state_of
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import DayStats, LoopbackState
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.exchange.types import Balance, Order, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = [
    "LIMIT_RETRY_AT",
    "PASSPHRASES",
    "Handler",
    "Holding",
    "OrderRequest",
    "VenueDialect",
    "VenueError",
    "decimal_param",
    "find_order",
    "holdings",
    "int_param",
    "market_day",
    "newest_trades",
    "num",
    "order_request",
    "orders_of",
    "trades_of",
]

PASSPHRASES: web.AppKey[dict[str, str]] = web.AppKey("loopback_passphrases", dict)
# Request key: a handler's own refusal for the rate (Kraken's order counter) says when a
# retry is first admitted (ms), for the request log.
LIMIT_RETRY_AT: web.RequestKey[int] = web.RequestKey("loopback_limit_retry_at", int)
Handler = Callable[[web.Request], Awaitable[web.Response]]


class VenueError(Exception, ABC):
    """An error answer in a venue's own shape."""

    @abstractmethod
    def answer(self, now_ms: int) -> web.Response:
        """The venue's answer (``now_ms``: when the request came, for venues that say)."""


@dataclass(frozen=True, slots=True)
class VenueDialect:
    """What every route of one venue shares: the path prefix it lives under, the venue's
    name of a market, and its answers to an unknown market and to the paper engine's
    errors."""

    prefix: str
    market_id: Callable[[SymbolSpec], str]
    unknown_market: Callable[[], VenueError]
    error_for: Callable[[errors.ExchangeError], VenueError]

    def market(self, state: LoopbackState, venue_id: str | None) -> SymbolSpec:
        """The market the venue calls ``venue_id``.

        Raises:
            VenueError: the venue's unknown-market answer (none, or none of that name).
        """
        spec = self.named_market(state, venue_id)
        if spec is None:
            raise self.unknown_market()
        return spec

    def named_market(self, state: LoopbackState, venue_id: str | None) -> SymbolSpec | None:
        """The market the venue calls ``venue_id``; None when no market is named (a
        request about all markets).

        Raises:
            VenueError: the venue's unknown-market answer (a name no market has).
        """
        if not venue_id:
            return None
        for spec in state.specs.values():
            if self.market_id(spec) == venue_id:
                return spec
        raise self.unknown_market()

    def guard(self, handler: Handler) -> Handler:
        """``handler`` with every refusal answered the venue's way: its own errors, the
        shared state's unknown symbol, and the paper engine's errors."""

        async def guarded(request: web.Request) -> web.Response:
            now = state_of(request).clock()
            try:
                return await handler(request)
            except VenueError as exc:
                return exc.answer(now)
            except BinanceError:  # the shared state's unknown-symbol refusal
                return self.unknown_market().answer(now)
            except errors.ExchangeError as exc:
                return self.error_for(exc).answer(now)

        return guarded

    def add_routes(self, app: web.Application, routes: Iterable[tuple[str, str, Handler]]) -> None:
        """Register ``(method, path below the prefix, handler)`` routes, each guarded."""
        for method, path, handler in routes:
            app.router.add_route(method, self.prefix + path, self.guard(handler))


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


def int_param(raw: object) -> int | None:
    """A whole number from a request field; None when absent or not all digits."""
    text = "" if raw is None else str(raw)
    return int(text) if text.isdigit() else None


class OrderRequest(NamedTuple):
    """The order a create request asks for (``price``: None for a market order)."""

    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None


def order_request(
    side: object, type_: object, amount: object, price: object
) -> OrderRequest | None:
    """The order asked for by its side, type ("buy"/"sell", "limit"/"market", any case),
    amount and price fields; None when the side, type or amount is missing or
    malformed. A limit order's price may still be None: each venue refuses it its way."""
    sides = {"buy": Side.BUY, "sell": Side.SELL}
    types = {"limit": OrderType.LIMIT, "market": OrderType.MARKET}
    side_, kind = sides.get(str(side).lower()), types.get(str(type_).lower())
    size = decimal_param(amount)
    if side_ is None or kind is None or size is None:
        return None
    return OrderRequest(
        side_, kind, size, decimal_param(price) if kind is OrderType.LIMIT else None
    )


def market_day(state: LoopbackState, spec: SymbolSpec) -> tuple[Decimal, DayStats]:
    """The market's last price (0 before any) and its last 24 hours, for a ticker."""
    last = state.paper.last_price(spec.symbol) or Decimal(0)
    return last, state.day_stats(spec.id, last, state.clock())


class Holding(NamedTuple):
    """One asset of the account."""

    asset: str
    free: Decimal
    used: Decimal
    total: Decimal


def holdings(balance: Balance) -> list[Holding]:
    """Every asset the account holds or has held, by name."""
    return [
        Holding(
            asset,
            balance.free.get(asset, Decimal(0)),
            balance.used.get(asset, Decimal(0)),
            balance.total(asset),
        )
        for asset in sorted(set(balance.free) | set(balance.used))
    ]


def find_order(
    state: LoopbackState, order_id: str | None, client_id: str | None, spec: SymbolSpec | None
) -> Order | None:
    """The order by id or client id (of ``spec``'s market if given); None if unknown."""
    if not order_id and not client_id:
        return None
    try:
        order = state.paper.fetch_order(order_id or None, client_id or None)
    except errors.OrderNotFound:
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


def trades_of(state: LoopbackState, specs: Iterable[SymbolSpec]) -> list[Trade]:
    result: list[Trade] = []
    for spec in specs:
        result += state.paper.trades(spec.symbol)
    return sorted(result, key=lambda t: (t.timestamp, t.id))


def newest_trades(
    state: LoopbackState, spec: SymbolSpec | None, since_ms: int | None, limit: int
) -> list[Trade]:
    """The account's trades (of one market or all) from ``since_ms`` on, newest first,
    at most ``limit`` of them."""
    found = trades_of(state, [spec] if spec else state.specs.values())
    return [t for t in reversed(found) if since_ms is None or t.timestamp >= since_ms][:limit]
