"""Cancelling a grid's order: refused before the exchange when it is not the grid's or
the account is paused; an order the desk does not track is looked up first (and booked
as found); a cancel whose answer is lost is confirmed by looking the order up."""

from __future__ import annotations

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.replies import Outcome, ack, reject
from gridsup.actors.execution.tracked_orders import TrackedOrder, intent_of
from gridsup.actors.execution.workbench import Workbench
from gridsup.exchange.errors import ExchangeError, OrderNotFound
from gridsup.exchange.refusals import RefusalKind, refusal_kind
from gridsup.messages.orders import CancelOrder
from gridsup.messages.store import StoreRequest

log = structlog.get_logger("gridsup.actors.execution")


class Cancelling:
    """CancelOrder in; an :class:`Outcome` out (see the module docstring)."""

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench

    async def cancel(self, msg: CancelOrder) -> Outcome:
        cid = msg.client_order_id
        refused = self.bench.admission.refusal(msg.strategy, cid, msg.symbol)
        if refused is not None:
            return reject(msg.request_id, cid, refused)
        if self.bench.admission.paused is not None:
            return reject(msg.request_id, cid, self.bench.admission.paused_reason(), retryable=True)
        await self.bench.inflight.settled(cid)
        tracked = self.bench.book.get(cid)
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        if tracked is None:
            try:
                order = await self.bench.venue.lookup(cid, msg.symbol)
                if order is None:
                    return reject(msg.request_id, cid, "unknown order")
                # A cancelled partial's trades too: they may never have been booked.
                trades = await self.bench.trades_to_book(order)
            except ExchangeError as exc:
                return reject(msg.request_id, cid, repr(exc), retryable=True)
            await self.bench.inflight.settled(cid)
            if (tracked := self.bench.book.get(cid)) is None:
                tracked = self.bench.book.add(TrackedOrder(msg.strategy, intent_of(order)))
                requests.append(self.bench.booking.acknowledged(tracked, order))
                more, actions = self.bench.booking.absorb(tracked, order, trades)
                requests += more
        if tracked.status.is_final:
            return Outcome(ack(msg.request_id, tracked), requests, actions)
        with self.bench.inflight.holding(cid):
            try:
                more, extra = await self.cancel_tracked(tracked)
            except ExchangeError as exc:
                if refusal_kind(exc) is RefusalKind.ACCOUNT:
                    self.bench.admission.pause(str(exc))
                return reject(msg.request_id, cid, repr(exc), retryable=True)
        return Outcome(
            ack(msg.request_id, tracked),
            requests + more,
            actions + extra,
            paper_changed=self.bench.venue.dry_run,
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
            order = await self.bench.venue.cancel(tracked.exchange_order_id, symbol)
        except OrderNotFound:
            found = await self.bench.venue.lookup(tracked.cid, symbol)
            if found is None:
                raise
            order = found
        except ExchangeError as exc:
            if refusal_kind(exc) is not RefusalKind.TEMPORARY:
                raise
            found = await self.bench.venue.lookup(tracked.cid, symbol)
            if found is None or not found.status.is_final:
                raise
            log.warning("cancel_confirmed_by_lookup", client_order_id=tracked.cid, error=str(exc))
            order = found
        trades = await self.bench.trades_to_book(order, tracked.filled)
        return self.bench.booking.absorb(tracked, order, trades)
