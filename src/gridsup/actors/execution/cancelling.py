"""Cancelling a grid's order: refused before the exchange when it is not the grid's or
the account is paused; an order the desk does not track is looked up first (and booked
as found); a cancel whose answer is lost is confirmed by looking the order up."""

from __future__ import annotations

import structlog

from gridsup.actors.execution.admission import Admission
from gridsup.actors.execution.booking import Booking, Records
from gridsup.actors.execution.inflight import InFlight
from gridsup.actors.execution.order_trades import trades_to_book
from gridsup.actors.execution.outbox import Action
from gridsup.actors.execution.replies import Outcome, ack, reject
from gridsup.actors.execution.tracked_orders import OrderBook, TrackedOrder, intent_of
from gridsup.actors.execution.venue import Venue
from gridsup.exchange.errors import ExchangeError, OrderNotFound
from gridsup.exchange.refusals import RefusalKind, refusal_kind
from gridsup.messages.orders import CancelOrder
from gridsup.messages.store import StoreRequest

log = structlog.get_logger("gridsup.actors.execution")


class Cancelling:
    """CancelOrder in; an :class:`Outcome` out (see the module docstring)."""

    def __init__(
        self,
        book: OrderBook,
        venue: Venue,
        booking: Booking,
        admission: Admission,
        inflight: InFlight,
    ) -> None:
        self.book = book
        self.venue = venue
        self.booking = booking
        self.admission = admission
        self.inflight = inflight

    async def cancel(self, msg: CancelOrder) -> Outcome:
        cid = msg.client_order_id
        refused = self.admission.refusal(msg.strategy, cid, msg.symbol)
        if refused is not None:
            return reject(msg.request_id, cid, refused)
        if self.admission.paused is not None:
            return reject(msg.request_id, cid, self.admission.paused_reason(), retryable=True)
        await self.inflight.settled(cid)
        tracked = self.book.get(cid)
        requests: list[StoreRequest] = []
        actions: list[Action] = []
        if tracked is None:
            try:
                order = await self.venue.lookup(cid, msg.symbol)
                if order is None:
                    return reject(msg.request_id, cid, "unknown order")
                # A cancelled partial's trades too: they may never have been booked.
                trades = await trades_to_book(self.venue, self.booking, order)
            except ExchangeError as exc:
                return reject(msg.request_id, cid, repr(exc), retryable=True)
            await self.inflight.settled(cid)
            if (tracked := self.book.get(cid)) is None:
                tracked = self.book.add(TrackedOrder(msg.strategy, intent_of(order)))
                requests.append(self.booking.acknowledged(tracked, order))
                more, actions = self.booking.absorb(tracked, order, trades)
                requests += more
        if tracked.status.is_final:
            return Outcome(ack(msg.request_id, tracked), requests, actions)
        with self.inflight.holding(cid):
            try:
                more, extra = await self.cancel_tracked(tracked)
            except ExchangeError as exc:
                if refusal_kind(exc) is RefusalKind.ACCOUNT:
                    self.admission.pause(str(exc))
                return reject(msg.request_id, cid, repr(exc), retryable=True)
        return Outcome(
            ack(msg.request_id, tracked),
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
        trades = await trades_to_book(self.venue, self.booking, order, tracked.filled)
        return self.booking.absorb(tracked, order, trades)
