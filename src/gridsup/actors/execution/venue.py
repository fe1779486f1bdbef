"""Where the execution actor's orders go: the paper account (dry-run) or a real exchange
through ccxt (live), behind one small interface.

Every call that is a request to the exchange first takes a token from the account's
:class:`TokenBucket`; the paper account charges its placements and cancels the same way,
so a dry run paces like the live account would. ``request_status`` is what the requests
did, for the metrics and alerts (``gridsup.messages.telemetry``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol

from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.exchange.base import Exchange
from gridsup.exchange.budget import Budget
from gridsup.exchange.errors import DuplicateOrder, OrderNotFound
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderIntent

# Trades asked for in one request (Binance answers at most 1000).
TRADES_LIMIT = 1000

# Whether the paper account retired a client id long ago (the store's list; raises
# ExchangeUnavailable when the store cannot say).
RetiredLookup = Callable[[str], Awaitable[bool]]


class Venue(Protocol):
    """The exchange side of the execution actor. Raises ``gridsup.exchange.errors``."""

    dry_run: bool

    async def place(self, intent: OrderIntent) -> Order: ...

    async def cancel(self, order_id: str, symbol: str) -> Order: ...

    async def lookup(self, client_order_id: str, symbol: str) -> Order | None: ...

    async def trades_of(self, order: Order) -> list[Trade]: ...

    async def symbol_trades(self, symbol: str, since: int) -> list[Trade]: ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def price(self, symbol: str) -> Decimal | None: ...

    async def close(self) -> None: ...

    def request_status(self) -> dict[str, float | int | bool]: ...


class PaperVenue:
    """The dry-run account: a :class:`PaperExchange` living in the execution actor.

    ``budget``: the host's request budget when the run's market data comes from a real
    exchange (its figures are that actor's requests).

    The account keeps only its recent retired client ids in memory; with
    ``retired_lookup``, a placement under an id it may have retired longer ago (one at
    or below its slot's floor, or a foreign one: ``exchange/paper/retired.py``) is first
    looked up in the store, and refused as a duplicate when it is there."""

    dry_run = True

    def __init__(
        self,
        paper: PaperExchange,
        limiter: TokenBucket,
        budget: Budget | None = None,
        retired_lookup: RetiredLookup | None = None,
    ) -> None:
        self.paper = paper
        self.limiter = limiter
        self.budget = budget
        self.retired_lookup = retired_lookup
        self.retired_lookups = 0  # store look-ups made (status)

    async def place(self, intent: OrderIntent) -> Order:
        await self.limiter.acquire()
        cid = intent.client_order_id
        if self.retired_lookup is not None and self.paper.retired.needs_lookup(cid):
            self.retired_lookups += 1
            if await self.retired_lookup(cid):
                raise DuplicateOrder(f"client order id {cid!r} was used before (retired)")
        return self.paper.create_order(
            intent.symbol,
            intent.side,
            intent.type,
            intent.amount,
            intent.price,
            client_order_id=intent.client_order_id,
        )

    async def cancel(self, order_id: str, symbol: str) -> Order:
        await self.limiter.acquire()
        return self.paper.cancel_order(order_id, symbol)

    async def lookup(self, client_order_id: str, symbol: str) -> Order | None:
        # The account's own index: a memory look-up, not a request.
        try:
            return self.paper.fetch_order(client_order_id=client_order_id)
        except OrderNotFound:
            return None

    async def trades_of(self, order: Order) -> list[Trade]:
        return self.paper.order_trades(order.id)

    async def symbol_trades(self, symbol: str, since: int) -> list[Trade]:
        return self.paper.trades(symbol, since)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self.paper.open_orders(symbol)

    async def price(self, symbol: str) -> Decimal | None:
        return self.paper.last_price(symbol)

    async def close(self) -> None:
        return None

    def request_status(self) -> dict[str, float | int | bool]:
        return {} if self.budget is None else dict(self.budget.status())


class LiveVenue:
    """A real account through an :class:`Exchange` (``CcxtExchange``)."""

    dry_run = False

    def __init__(self, exchange: Exchange, limiter: TokenBucket) -> None:
        self.exchange = exchange
        self.limiter = limiter

    async def place(self, intent: OrderIntent) -> Order:
        await self.limiter.acquire()
        return await self.exchange.create_order(
            intent.symbol,
            intent.side,
            intent.type,
            intent.amount,
            intent.price,
            client_order_id=intent.client_order_id,
        )

    async def cancel(self, order_id: str, symbol: str) -> Order:
        await self.limiter.acquire()
        return await self.exchange.cancel_order(order_id, symbol)

    async def lookup(self, client_order_id: str, symbol: str) -> Order | None:
        await self.limiter.acquire()
        try:
            return await self.exchange.fetch_order(symbol, client_order_id=client_order_id)
        except OrderNotFound:
            return None

    async def trades_of(self, order: Order) -> list[Trade]:
        """The order's trades, by its id: a cancelled order's ``timestamp`` may be the
        cancel's time on Binance, so "trades since" it would miss the earlier ones."""
        await self.limiter.acquire()
        by_id = getattr(self.exchange, "fetch_order_trades", None)
        if by_id is not None:
            trades: list[Trade] = await by_id(order.symbol, order.id)
            return trades
        trades = await self.exchange.fetch_my_trades(order.symbol)
        return [t for t in trades if t.order_id == order.id]

    async def symbol_trades(self, symbol: str, since: int) -> list[Trade]:
        """The account's trades in ``symbol`` from ``since`` on (one request; the
        exchange caps the answer, callers check that what they expect is there)."""
        await self.limiter.acquire()
        return await self.exchange.fetch_my_trades(symbol, since=since, limit=TRADES_LIMIT)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """One symbol's open orders, or every symbol's in one request (None)."""
        await self.limiter.acquire()
        return await self.exchange.fetch_open_orders(symbol)

    async def price(self, symbol: str) -> Decimal | None:
        await self.limiter.acquire()
        return (await self.exchange.fetch_ticker(symbol)).last

    async def close(self) -> None:
        await self.exchange.close()

    def request_status(self) -> dict[str, float | int | bool]:
        """The client's request figures (``CcxtExchange.request_status``)."""
        figures = getattr(self.exchange, "request_status", None)
        return {} if figures is None else dict(figures())
