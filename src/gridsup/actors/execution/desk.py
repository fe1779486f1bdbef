"""The execution actor's order logic, free of sockets: PlaceOrder, CancelOrder,
QueryOrders, ticks (dry-run) and polls (live) in; store requests, replies and
sequence-numbered updates out.

Every method returns what must be stored and what may be sent once it is (an
:class:`Outcome`, or a pair of lists); the actor does the sending. Sequence numbers are
taken when an update is produced and the actor commits it in the same step (no ``await``
between :meth:`Booking.absorb` and the return of the method that called it), so updates
leave in sequence order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from gridsup.actors.execution.booking import Booking, Records
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.outbox import Action
from gridsup.actors.execution.poller import PollResult
from gridsup.actors.execution.tracked_orders import OrderBook, TrackedOrder, intent_of
from gridsup.actors.execution.venue import Venue
from gridsup.actors.run_config import GridSpec, RunConfig
from gridsup.exchange.errors import (
    AmbiguousOrder,
    BadSymbol,
    DuplicateOrder,
    ExchangeError,
    OrderNotFound,
)
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.refusals import RefusalKind, refusal_kind
from gridsup.exchange.types import Candle, Order, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.messages.orders import (
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderReply,
    OrderSnapshot,
    PlaceOrder,
    QueryOrders,
)
from gridsup.messages.store import StoreRequest

log = structlog.get_logger("gridsup.actors.execution")

# Ambiguous placements remembered for the stop to settle (invariant 8: bounded).
KEEP_DOUBTFUL = 1000


@dataclass(slots=True)
class Outcome:
    """The answer to one request, and what must be durable before it leaves."""

    reply: OrderReply
    requests: list[StoreRequest] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    durable: bool = True  # False: a refusal that changed nothing, sent at once
    paper_changed: bool = False


class Desk:
    """See the module docstring."""

    def __init__(
        self, run: RunConfig, book: OrderBook, budgets: Budgets, venue: Venue, epoch: int
    ) -> None:
        self.run = run
        self.book = book
        self.budgets = budgets
        self.venue = venue
        self.epoch = epoch
        self.booking = Booking(
            run, book, budgets, "paper" if venue.dry_run else run.exchange_id, epoch
        )
        self.grids: dict[str, GridSpec] = {g.name: g for g in run.grids}
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self.placed = self.rejected = self.foreign = 0
        self._foreign: dict[str | None, set[str]] = {}  # by symbol polled (None: all)
        self.waiting = 0  # placements refused for a passing reason (retried by the grid)
        self.paused: str | None = None  # why the account is paused (keys refused)
        # Placements answered ambiguously (the create may have landed), by client id.
        self.doubtful: dict[str, TrackedOrder] = {}
        # A cluster member's execution actor shares the account with the other members:
        # only the grids whose strategy actors talk to it are its own (placement moves
        # the rest elsewhere), so another member's orders are never adopted here.
        self.cluster = run.member is not None
        self.served: set[str] = set()

    # -- account pause --------------------------------------------------------------------

    def pause(self, reason: str) -> None:
        """The exchange refused the keys or a permission: stop sending anything for every
        grid of the account (one status, no retry storm) until :meth:`resume`."""
        if self.paused is None:
            log.error("account_paused", exchange=self.run.exchange_id, reason=reason)
        self.paused = reason

    def resume(self) -> None:
        if self.paused is not None:
            log.warning("account_resumed", exchange=self.run.exchange_id)
        self.paused = None

    def _paused_reason(self) -> str:
        return f"account paused: {self.paused} (check the API key and its permissions)"

    # -- identities -----------------------------------------------------------------------

    def grid_of(self, cid: str | None) -> str | None:
        """The name of the grid that ``cid`` belongs to; None for a foreign order (in a
        cluster, also for a grid no strategy actor of this member has asked about)."""
        grid = self.booking.grid_of(cid)
        if self.cluster and grid not in self.served:
            return None
        return grid

    @property
    def fills(self) -> int:
        return self.booking.fills

    def rerecord_paper_trades(self) -> list[StoreRequest]:
        """Dry-run start: see :meth:`Booking.rerecord_trades`."""
        paper = getattr(self.venue, "paper", None)
        return [] if paper is None else self.booking.rerecord_trades(paper)

    def _refusal(self, strategy: str, cid: str, symbol: str | None) -> str | None:
        spec = self.grids.get(strategy)
        if spec is None:
            return f"unknown strategy {strategy!r}"
        if self.grid_of(cid) != strategy:
            return f"client order id {cid!r} does not belong to grid {strategy!r}"
        if symbol is not None and symbol != spec.symbol:
            return f"grid {strategy!r} trades {spec.symbol}, not {symbol}"
        return None

    def in_flight(self, cid: str) -> bool:
        """A placement or cancel of ``cid`` is under way (it books its own outcome)."""
        return cid in self._inflight

    async def settled(self, cid: str) -> None:
        """Wait until no placement or cancel of ``cid`` is in flight."""
        await self._settled(cid)

    async def _settled(self, cid: str) -> None:
        """Wait until no placement or cancel of ``cid`` is in flight."""
        while (future := self._inflight.get(cid)) is not None:
            await asyncio.shield(future)

    def _begin(self, cid: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[cid] = future
        return future

    def _end(self, cid: str, future: asyncio.Future[None]) -> None:
        self._inflight.pop(cid, None)
        future.set_result(None)

    # -- requests -------------------------------------------------------------------------

    async def place(self, msg: PlaceOrder) -> Outcome:
        intent = msg.intent
        cid = intent.client_order_id
        refused = self._refusal(msg.strategy, cid, intent.symbol)
        if refused is not None:
            return self._reject(msg.request_id, cid, refused)
        if self.paused is not None:  # nothing reaches the exchange until a probe succeeds
            return self._reject(msg.request_id, cid, self._paused_reason(), retryable=True)
        await self._settled(cid)
        known = self.book.get(cid)
        if known is not None and known.placed:  # a re-send: answer with what we have
            return Outcome(self._ack(msg.request_id, known))
        price = None
        if intent.type is OrderType.MARKET and intent.side is Side.BUY:
            try:
                price = await self.venue.price(intent.symbol)
            except ExchangeError as exc:
                return self._reject(msg.request_id, cid, f"no price: {exc}", retryable=True)
        await self._settled(cid)  # the price look-up yielded: someone may have placed it
        if (known := self.book.get(cid)) is not None and known.placed:
            return Outcome(self._ack(msg.request_id, known))
        reason = self.budgets.check(
            msg.strategy, intent, self.book.open_buy_notional(msg.strategy), price
        )
        if reason is not None:
            passing = not self.budgets.never_fits(msg.strategy, intent, price)
            log.warning(
                "order_refused_budget",
                grid=msg.strategy,
                client_order_id=cid,
                passing=passing,
                reason=reason,
            )
            if passing:  # the grid keeps the slot and asks again with backoff
                self.waiting += 1
                return self._reject(msg.request_id, cid, f"waiting: {reason}", retryable=True)
            return self._reject(msg.request_id, cid, reason)
        tracked = self.book.add(TrackedOrder(msg.strategy, intent))  # reserves the budget
        self.doubtful.pop(cid, None)  # this placement settles it: it looks the id up first
        future = self._begin(cid)
        try:
            order = await self._submit(tracked)
            trades = await self._first_trades(order)
        except ExchangeError as exc:
            self.book.discard(cid)
            if isinstance(exc, AmbiguousOrder):
                self._doubt(tracked)
            kind = refusal_kind(exc)
            if kind is RefusalKind.PERMANENT:
                self.rejected += 1
                log.warning("order_rejected", client_order_id=cid, error=str(exc))
                event = self.booking.event(
                    tracked, OrderStatus.REJECTED, "rejected", reason=str(exc)
                )
                reply = OrderRejected(
                    request_id=msg.request_id, client_order_id=cid, reason=str(exc)
                )
                return Outcome(reply, [event])
            if kind is RefusalKind.ACCOUNT:
                self.pause(str(exc))
                return self._reject(msg.request_id, cid, self._paused_reason(), retryable=True)
            # Temporary or ambiguous: the strategy keeps the slot and asks again later.
            self.waiting += 1
            log.warning("order_not_placed", client_order_id=cid, error=repr(exc))
            return self._reject(msg.request_id, cid, f"waiting: {exc}", retryable=True)
        finally:
            self._end(cid, future)
        self.placed += 1
        requests: list[StoreRequest] = [self.booking.acknowledged(tracked, order)]
        more, actions = self.booking.absorb(tracked, order, trades)
        return Outcome(
            self._ack(msg.request_id, tracked),
            requests + more,
            actions,
            paper_changed=self.venue.dry_run,
        )

    async def _first_trades(self, order: Order) -> list[Trade]:
        """The trades of an order just placed (a crossing order fills at once, as taker).
        Never raises: the exchange has the order, so it is booked as placed whatever
        happens here, and trades that could not be fetched come with the next poll or
        stream event (the order is tracked as placed and filled more than booked)."""
        if order.filled <= 0:
            return []
        try:
            trades = await self.venue.trades_of(order)
        except ExchangeError as exc:
            log.warning(
                "order_trades_deferred", client_order_id=order.client_order_id, error=str(exc)
            )
            return []
        await self.price_fees(trades)
        return trades

    def _doubt(self, tracked: TrackedOrder) -> None:
        """Remember a placement whose outcome is unknown (the create may have landed);
        the grid's retry or the stop (``stopping.settle_placements``) settles it."""
        self.doubtful[tracked.cid] = tracked
        while len(self.doubtful) > KEEP_DOUBTFUL:
            dropped = next(iter(self.doubtful))
            del self.doubtful[dropped]
            log.warning("doubtful_placement_forgotten", client_order_id=dropped)

    async def _submit(self, tracked: TrackedOrder) -> Order:
        """Place ``tracked`` unless the exchange has it already (look up first).

        Raises:
            ExchangeError: refused, or the outcome is unknown.
        """
        intent = tracked.intent
        existing = await self.venue.lookup(intent.client_order_id, intent.symbol)
        if existing is not None:
            log.info("order_found_existing", client_order_id=intent.client_order_id)
            return existing
        try:
            return await self.venue.place(intent)
        except DuplicateOrder:
            found = await self.venue.lookup(intent.client_order_id, intent.symbol)
            if found is None:
                raise
            return found

    async def cancel(self, msg: CancelOrder) -> Outcome:
        cid = msg.client_order_id
        refused = self._refusal(msg.strategy, cid, msg.symbol)
        if refused is not None:
            return self._reject(msg.request_id, cid, refused)
        if self.paused is not None:
            return self._reject(msg.request_id, cid, self._paused_reason(), retryable=True)
        await self._settled(cid)
        tracked = self.book.get(cid)
        requests: list[StoreRequest] = []
        actions: list[Action] = []
        if tracked is None:
            try:
                order = await self.venue.lookup(cid, msg.symbol)
            except ExchangeError as exc:
                return self._reject(msg.request_id, cid, repr(exc), retryable=True)
            if order is None:
                return self._reject(msg.request_id, cid, "unknown order")
            try:  # a cancelled partial's trades too: they may never have been booked
                trades = await self.venue.trades_of(order) if order.filled > 0 else []
            except ExchangeError as exc:
                return self._reject(msg.request_id, cid, repr(exc), retryable=True)
            await self.price_fees(trades)
            await self._settled(cid)
            if (tracked := self.book.get(cid)) is None:
                tracked = self.book.add(TrackedOrder(msg.strategy, intent_of(order)))
                requests.append(self.booking.acknowledged(tracked, order))
                more, actions = self.booking.absorb(tracked, order, trades)
                requests += more
        if tracked.status.is_final:
            return Outcome(self._ack(msg.request_id, tracked), requests, actions)
        future = self._begin(cid)
        try:
            more, extra = await self.cancel_tracked(tracked)
        except ExchangeError as exc:
            if refusal_kind(exc) is RefusalKind.ACCOUNT:
                self.pause(str(exc))
            return self._reject(msg.request_id, cid, repr(exc), retryable=True)
        finally:
            self._end(cid, future)
        return Outcome(
            self._ack(msg.request_id, tracked),
            requests + more,
            actions + extra,
            paper_changed=self.venue.dry_run,
        )

    async def cancel_tracked(self, tracked: TrackedOrder) -> Records:
        """Cancel one open order; an order found final instead is booked as it is.

        A cancel whose answer is lost (a timeout, a dropped connection, a 5xx after the
        retries) may well have been executed: the order is then looked up by its client
        id, and a final state there is the confirmation. Otherwise the error is raised
        and the caller sends the cancel again (a cancel is idempotent here: a second one
        of a cancelled order finds it cancelled).

        Raises:
            ExchangeError: the exchange could not be asked, or did not confirm (the
                order stays open in the book).
        """
        symbol = tracked.intent.symbol
        try:
            assert tracked.exchange_order_id is not None
            order = await self.venue.cancel(tracked.exchange_order_id, symbol)
        except OrderNotFound:
            found = await self.venue.lookup(tracked.cid, symbol)
            if found is None:
                raise
            order = found
        except ExchangeError as exc:
            if refusal_kind(exc) is not RefusalKind.TEMPORARY:
                raise
            found = await self.venue.lookup(tracked.cid, symbol)
            if found is None or not found.status.is_final:
                raise
            log.warning("cancel_confirmed_by_lookup", client_order_id=tracked.cid, error=str(exc))
            order = found
        trades = await self.venue.trades_of(order) if order.filled > tracked.filled else []
        await self.price_fees(trades)
        return self.booking.absorb(tracked, order, trades)

    async def query(self, msg: QueryOrders) -> Outcome:
        grid = msg.strategy
        if grid not in self.grids:
            return self._reject(msg.request_id, "", f"unknown strategy {grid!r}")
        self.served.add(grid)  # a grid's start and every resync begin with a query
        if self.paused is not None:
            return self._reject(msg.request_id, "", self._paused_reason(), retryable=True)
        symbol = msg.symbol or self.grids[grid].symbol
        found: list[tuple[Order, list[Trade]]] = []
        for cid in msg.client_order_ids:
            await self._settled(cid)
            if self.book.get(cid) is not None or self.grid_of(cid) != grid:
                continue
            try:
                order = await self.venue.lookup(cid, symbol)
                if order is not None:
                    trades = await self.venue.trades_of(order) if order.filled > 0 else []
                    await self.price_fees(trades)
                    found.append((order, trades))
            except ExchangeError as exc:
                return self._reject(msg.request_id, cid, repr(exc), retryable=True)
        # No await from here on: updates and the snapshot's seq are taken together.
        requests: list[StoreRequest] = []
        actions: list[Action] = []
        for order, trades in found:
            if self.book.get(order.client_order_id or "") is not None:
                continue  # placed meanwhile
            tracked = self.book.add(TrackedOrder(grid, intent_of(order)))
            requests.append(self.booking.acknowledged(tracked, order))
            more, acts = self.booking.absorb(tracked, order, trades)
            requests += more
            actions += acts
        wanted = set(msg.client_order_ids)
        orders = [t for t in self.book.open_orders(grid) if t.placed]
        orders += [
            t
            for cid in wanted
            if (t := self.book.get(cid)) is not None and t.grid == grid and t.status.is_final
        ]
        if msg.symbol is not None:
            orders = [t for t in orders if t.intent.symbol == msg.symbol]
        snapshot = OrderSnapshot(
            request_id=msg.request_id,
            strategy=grid,
            seq=self.booking.seq[grid],
            orders=tuple(t.state() for t in orders),
            epoch=self.epoch,
        )
        return Outcome(snapshot, requests, actions, paper_changed=bool(requests))

    # -- market and polls -----------------------------------------------------------------

    def on_tick(self, tick: Tick) -> Records:
        """Dry-run: feed the paper account one price; book the fills it made."""
        paper = getattr(self.venue, "paper", None)
        if paper is None:
            return [], []
        try:
            trades = paper.on_price(tick.symbol, tick.last, tick.timestamp)
        except BadSymbol:
            log.warning("tick_for_unknown_market", symbol=tick.symbol)
            return [], []
        return self._book_paper_trades(paper, trades)

    def replay_candles(self, symbol: str, candles: list[Candle]) -> tuple[Records, int]:
        """Dry-run catch-up: walk each missed candle through the paper account and book
        the fills, exactly as a tick's (see ``execution_catchup``); and the fill count.

        Raises:
            BadSymbol: the paper account has no such market.
        """
        paper = getattr(self.venue, "paper", None)
        if paper is None:
            return ([], []), 0
        trades: list[Trade] = []
        for c in candles:
            trades += paper.on_candle(symbol, c.timestamp, c.open, c.high, c.low, c.close, c.volume)
        return self._book_paper_trades(paper, trades), len(trades)

    def _book_paper_trades(self, paper: PaperExchange, trades: list[Trade]) -> Records:
        if not trades:
            return [], []
        by_order: dict[str, list[Trade]] = defaultdict(list)
        fee_prices = self.booking.fee_prices
        for trade in trades:
            by_order[trade.order_id].append(trade)
            assets = self.booking.assets_of(trade.symbol)
            if trade.fee and trade.fee_currency not in assets:
                # Dry-run: the paper account's own last price of the pair (no request).
                pair = f"{trade.fee_currency}/{assets[1]}"
                if (price := paper.last_price(pair)) is not None:
                    fee_prices.note(pair, price)
        requests: list[StoreRequest] = []
        actions: list[Action] = []
        for order_id, order_trades in by_order.items():
            order = paper.fetch_order(order_id)
            tracked = self.book.get(order.client_order_id or "")
            if tracked is None:
                grid = self.grid_of(order.client_order_id)
                if grid is None:
                    continue  # not ours: the paper account has no foreign orders, but be safe
                tracked = self.book.add(TrackedOrder(grid, intent_of(order)))
                requests.append(self.booking.acknowledged(tracked, order))
            more, acts = self.booking.absorb(tracked, order, order_trades)
            requests += more
            actions += acts
        return requests, actions

    async def on_poll(self, result: PollResult) -> Records:
        """Live: book what one poll found (fills, final states, orphans to adopt)."""
        if result.symbol is None:
            self._foreign = {None: result.foreign}
        else:
            self._foreign.pop(None, None)
            self._foreign[result.symbol] = result.foreign
        foreign = sum(len(ids) for ids in self._foreign.values())
        if foreign != self.foreign:
            # Reported, never touched: a person or another bot trades on this account.
            log.warning("foreign_orders_seen", count=foreign)
        self.foreign = foreign
        orphans: list[tuple[Order, list[Trade]]] = []
        for order in result.orphans:
            try:
                trades = await self.venue.trades_of(order) if order.filled > 0 else []
            except ExchangeError as exc:
                log.warning("orphan_trades_unavailable", order_id=order.id, error=str(exc))
                continue
            orphans.append((order, trades))
        await self.price_fees(t for change in result.changes for t in change.trades)
        requests: list[StoreRequest] = []
        actions: list[Action] = []
        for change in result.changes:
            if self.book.get(change.tracked.cid) is not change.tracked:
                continue  # replaced meanwhile
            if change.tracked.cid in self._inflight:
                continue  # a cancel of it is under way and books it; the next poll sees the rest
            more, acts = self.booking.absorb(change.tracked, change.order, change.trades)
            requests += more
            actions += acts
        more, acts = self._adopt(orphans)
        return requests + more, actions + acts

    async def adopt_open_orders(self) -> Records:
        """At start: track every open order of our grids (foreign ones are counted)."""
        found: list[tuple[Order, list[Trade]]] = []
        foreign = 0
        for order in await self.venue.open_orders():
            if self.grid_of(order.client_order_id) is None:
                foreign += 1
                continue
            trades = await self.venue.trades_of(order) if order.filled > 0 else []
            found.append((order, trades))
        self.foreign = foreign
        if foreign:
            log.warning("foreign_orders_seen", count=foreign)
        return self._adopt(found)

    def _adopt(self, orders: list[tuple[Order, list[Trade]]]) -> Records:
        requests: list[StoreRequest] = []
        actions: list[Action] = []
        for order, trades in orders:
            grid = self.grid_of(order.client_order_id)
            if grid is None or self.book.get(order.client_order_id or "") is not None:
                continue
            tracked = self.book.add(TrackedOrder(grid, intent_of(order)))
            # Fills before adoption were booked by whoever saw them; count them as known.
            tracked.filled = sum((t.amount for t in trades), Decimal(0))
            tracked.trade_ids = {t.id for t in trades}
            requests.append(self.booking.acknowledged(tracked, order))
            more, acts = self.booking.absorb(tracked, order, [])
            requests += more
            actions += acts
            log.info("order_adopted", grid=grid, client_order_id=tracked.cid)
        return requests, actions

    async def price_fees(self, trades: Iterable[Trade]) -> None:
        """Fresh prices for the third-asset fees of ``trades`` (see ``execution_fees``)."""
        await self.booking.fee_prices.prepare(self.venue, trades, self.booking.assets_of)

    def _ack(self, request_id: str, tracked: TrackedOrder) -> OrderAck:
        return OrderAck(
            request_id=request_id,
            client_order_id=tracked.cid,
            status=tracked.status,
            exchange_order_id=tracked.exchange_order_id,
        )

    def _reject(self, request_id: str, cid: str, reason: str, retryable: bool = False) -> Outcome:
        reply = OrderRejected(
            request_id=request_id, client_order_id=cid, reason=reason, retryable=retryable
        )
        return Outcome(reply, durable=False)
