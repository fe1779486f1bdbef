"""Placing a grid's order: refused before the exchange when it is not the grid's, the
account is paused or the grid's budget has no room; looked up by its client id before
it is sent, so that a re-sent PlaceOrder never makes a second order; and the exchange's
refusal sorted by what it asks for (``gridsup.exchange.refusals``)."""

from __future__ import annotations

import structlog

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.replies import Outcome, ack, reject
from gridsup.actors.execution.tracked_orders import TrackedOrder
from gridsup.actors.execution.workbench import Workbench
from gridsup.exchange.errors import AmbiguousOrder, DuplicateOrder, ExchangeError
from gridsup.exchange.refusals import RefusalKind, refusal_kind
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.orders import OrderRejected, PlaceOrder
from gridsup.messages.store import StoreRequest

log = structlog.get_logger("gridsup.actors.execution")

# Ambiguous placements remembered for the stop to settle (invariant 8: bounded).
KEEP_DOUBTFUL = 1000


class Placing:
    """PlaceOrder in; an :class:`Outcome` out (see the module docstring). Counts what it
    placed, what the exchange rejected and what waits for room (status)."""

    def __init__(self, bench: Workbench, budgets: Budgets) -> None:
        self.bench = bench
        self.budgets = budgets
        self.placed = self.rejected = 0
        self.waiting = 0  # placements refused for a passing reason (retried by the grid)
        # Placements answered ambiguously (the create may have landed), by client id.
        self.doubtful: dict[str, TrackedOrder] = {}

    async def place(self, msg: PlaceOrder) -> Outcome:
        intent = msg.intent
        cid = intent.client_order_id
        refused = self.bench.admission.refusal(msg.strategy, cid, intent.symbol)
        if refused is not None:
            return reject(msg.request_id, cid, refused)
        if self.bench.admission.paused is not None:  # nothing reaches the exchange until a probe
            return reject(msg.request_id, cid, self.bench.admission.paused_reason(), retryable=True)
        await self.bench.inflight.settled(cid)
        known = self.bench.book.get(cid)
        if known is not None and known.placed:  # a re-send: answer with what we have
            return Outcome(ack(msg.request_id, known))
        price = None
        if intent.type is OrderType.MARKET and intent.side is Side.BUY:
            try:
                price = await self.bench.venue.price(intent.symbol)
            except ExchangeError as exc:
                return reject(msg.request_id, cid, f"no price: {exc}", retryable=True)
        # The price look-up yielded: someone may have placed it meanwhile.
        await self.bench.inflight.settled(cid)
        if (known := self.bench.book.get(cid)) is not None and known.placed:
            return Outcome(ack(msg.request_id, known))
        reason = self.budgets.check(
            msg.strategy, intent, self.bench.book.open_buy_notional(msg.strategy), price
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
                return reject(msg.request_id, cid, f"waiting: {reason}", retryable=True)
            return reject(msg.request_id, cid, reason)
        tracked = self.bench.book.add(TrackedOrder(msg.strategy, intent))  # reserves the budget
        self.doubtful.pop(cid, None)  # this placement settles it: it looks the id up first
        with self.bench.inflight.holding(cid):
            try:
                order = await self._submit(tracked)
                trades = await self._first_trades(order)
            except ExchangeError as exc:
                return self._refused(msg.request_id, tracked, exc)
        self.placed += 1
        requests: list[StoreRequest] = [self.bench.booking.acknowledged(tracked, order)]
        more, actions = self.bench.booking.absorb(tracked, order, trades)
        return Outcome(
            ack(msg.request_id, tracked),
            requests + more,
            actions,
            paper_changed=self.bench.venue.dry_run,
        )

    def _refused(self, request_id: str, tracked: TrackedOrder, exc: ExchangeError) -> Outcome:
        """The exchange did not take ``tracked`` (or its answer was lost): untrack it and
        answer as the refusal's kind asks."""
        cid = tracked.cid
        self.bench.book.discard(cid)
        if isinstance(exc, AmbiguousOrder):
            self._doubt(tracked)
        kind = refusal_kind(exc)
        if kind is RefusalKind.PERMANENT:
            self.rejected += 1
            log.warning("order_rejected", client_order_id=cid, error=str(exc))
            event = self.bench.booking.event(
                tracked, OrderStatus.REJECTED, "rejected", reason=str(exc)
            )
            reply = OrderRejected(request_id=request_id, client_order_id=cid, reason=str(exc))
            return Outcome(reply, [event])
        if kind is RefusalKind.ACCOUNT:
            self.bench.admission.pause(str(exc))
            return reject(request_id, cid, self.bench.admission.paused_reason(), retryable=True)
        # Temporary or ambiguous: the strategy keeps the slot and asks again later.
        self.waiting += 1
        log.warning("order_not_placed", client_order_id=cid, error=repr(exc))
        return reject(request_id, cid, f"waiting: {exc}", retryable=True)

    async def _first_trades(self, order: Order) -> list[Trade]:
        """The trades of an order just placed (a crossing order fills at once, as taker).
        Never raises: the exchange has the order, so it is booked as placed whatever
        happens here, and trades that could not be fetched come with the next poll or
        stream event (the order is tracked as placed and filled more than booked)."""
        if order.filled <= 0:
            return []
        try:
            return await self.bench.trades_to_book(order)
        except ExchangeError as exc:
            log.warning(
                "order_trades_deferred", client_order_id=order.client_order_id, error=str(exc)
            )
            return []

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
        existing = await self.bench.venue.lookup(intent.client_order_id, intent.symbol)
        if existing is not None:
            log.info("order_found_existing", client_order_id=intent.client_order_id)
            return existing
        try:
            return await self.bench.venue.place(intent)
        except DuplicateOrder:
            found = await self.bench.venue.lookup(intent.client_order_id, intent.symbol)
            if found is None:
                raise
            return found
