"""Live fills by the exchange's user-data stream, REST polling only as its fallback.

The follower subscribes (``UserStream.connect`` returns once the exchange confirmed),
then **reconciles over REST** what it may have missed before the subscription (one
``poll`` of every symbol: open orders, and the trades of every tracked order that
moved), and only then trusts the stream: each event is booked as it arrives
(``Booking.absorb``: idempotent by trade id, so a duplicated event, or one the
reconcile already booked, is booked once; an older event arriving after a newer one
books its trade and changes no final status).

A gap — the connection dropped, the subscription ended (``eventStreamTerminated``), or
nothing at all (no event, no pong) came for longer than ``stale_after_ms`` — makes it
subscribe again and reconcile again, so a fill made while the stream was down is booked
exactly once. An event lost without any gap (the exchange dropped it) is found by the
audit: a reconcile every ``stream_audit_s`` while on the stream (one request when
nothing moved), run beside the stream so that a slow REST answer never holds up the
events. After ``stream_fallback_after`` failed subscriptions in a row the account
is **polled** by the :class:`AccountPoller` — paced by the account's ``PollPlan`` within
the host's request budget, exactly as an account without a stream — and the stream tried
again every ``stream_retry_s``; ``status`` shows which (``order_feed``) and since when.

The **account pause** (keys refused, docs/exchange.md "Refusals") holds here too: a
subscription refused for its keys pauses the account like any refused request; while it
is paused nothing reconnects — the poller probes once every ``account_probe_s`` (a stream
still open keeps delivering, its audit becomes that probe) — and the first probe that
succeeds resumes the account and subscribes again. No reconnect loop reaches a venue
that refuses the keys.

An event for an order whose placement or cancel is in flight waits for it: the request
books its own answer first, so a fill never overtakes the Ack of its order. It waits in
a task of its own (events of one order stay in order), never in front of the events of
the other orders: a placement slowed by the REST throttle must not delay a hundred other
grids' fills. The events that arrived together are committed together (one batch to the
store, one account save).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from contextlib import suppress
from enum import Enum
from typing import Any

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.poller import PollResult
from gridsup.actors.execution.polling import AccountPoller
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.exchange.errors import AuthenticationError, ExchangeError
from gridsup.exchange.streams import OrderEvent, StreamBroken, UserStream, stale_after_ms
from gridsup.messages import telemetry
from gridsup.messages.common import OrderStatus
from gridsup.messages.store import StoreRequest

__all__ = ["FeedMode", "StreamFollower"]

log = structlog.get_logger("gridsup.actors.execution")


class FeedMode(Enum):
    """Where the execution actor learns about fills."""

    CONNECTING = "connecting"  # subscribing (and reconciling) after a start or a gap
    STREAM = "stream"  # the user-data stream, trusted
    POLLING = "polling"  # REST polling: the stream failed too often
    PAUSED = "paused"  # the account is paused (keys refused): probed, not reconnected


class StreamFollower:
    """See the module docstring. ``commit`` takes what booking produced (the actor's
    durable-first path); ``poller`` polls the account when the stream cannot."""

    def __init__(
        self,
        stream: UserStream,
        desk: Desk,
        book: TrackedOrders,
        commit: Callable[[Records], None],
        poller: AccountPoller,
        *,
        keepalive_ms: int,
        fallback_after: int,
        retry_s: float,
        audit_s: float = 60.0,
        stale_ms: int | None = None,
    ) -> None:
        self.stream = stream
        self.desk = desk
        self.book = book
        self._commit = commit
        self.poller = poller
        self.keepalive_ms = keepalive_ms
        self.silence_limit_ms = stale_after_ms(keepalive_ms, stale_ms)
        self.fallback_after = max(1, fallback_after)
        self.retry_s = retry_s
        self.audit_s = audit_s
        self._checked_at = 0.0  # monotonic time of the last reconcile tried
        self._audit: asyncio.Task[bool] | None = None  # the audit under way beside the stream
        self._held: dict[str, list[OrderEvent]] = {}  # events waiting, per client id
        self._holders: dict[str, asyncio.Future[None]] = {}  # the task booking them
        self.mode = FeedMode.CONNECTING
        self.since_ms = int(time.time() * 1000)
        self.events = self.gaps = self.reconciles = self.connects = 0
        self.last_event_ms = 0

    @property
    def connect_timeout_s(self) -> float:
        return max(5.0, 2 * self.keepalive_ms / 1000)

    def _set(self, mode: FeedMode) -> None:
        if mode is not self.mode:
            log.info("order_feed_changed", feed=mode.value, was=self.mode.value)
            self.mode = mode
            self.since_ms = int(time.time() * 1000)

    async def run(self) -> None:
        """Follow the stream for ever (cancelled with the actor)."""
        failures = 0
        try:
            while True:
                if self.poller.paused:
                    # Nothing reconnects against refused keys: probe until they work.
                    self._set(FeedMode.PAUSED)
                    await self.poller.run_for(math.inf, until=lambda: not self.poller.paused)
                    self._set(FeedMode.CONNECTING)
                    failures = 0
                    continue
                self.connects += 1
                try:
                    # A subscription whose answer never comes (a silent server) is a failure.
                    await asyncio.wait_for(self.stream.connect(), self.connect_timeout_s)
                except AuthenticationError as exc:
                    log.warning("user_stream_refused", error=str(exc))
                    await self.stream.reset("keys refused")
                    self.desk.pause(str(exc))
                    continue
                except (TimeoutError, StreamBroken, ExchangeError) as exc:
                    if isinstance(exc, TimeoutError):
                        await self.stream.reset("subscription unanswered")
                    failures += 1
                    log.warning("user_stream_connect_failed", failures=failures, error=str(exc))
                    if failures >= self.fallback_after:
                        self._set(FeedMode.POLLING)
                        await self.poller.run_for(self.retry_s)
                    else:
                        await self.poller.run_for(min(2.0**failures * 0.25, self.retry_s))
                    continue
                failures = 0
                if not await self._reconcile("subscribed"):
                    await self.stream.reset("reconcile failed")
                    continue
                self._set(FeedMode.STREAM)
                try:
                    await self._follow()
                except StreamBroken as exc:
                    self.gaps += 1
                    log.warning("user_stream_lost", error=str(exc), gaps=self.gaps)
                    self._set(FeedMode.CONNECTING)
        finally:
            for task in [self._audit, *self._holders.values()]:
                await _cancelled(task)
            await self.stream.close()

    async def _follow(self) -> None:
        """Book events until the stream breaks or goes silent.

        Raises:
            StreamBroken: the stream ended or was silent past its limit.
        """
        wait_s = max(0.05, min(self.keepalive_ms / 2000, self.audit_s))
        try:
            while True:
                self._audit_when_due()
                try:
                    events = await asyncio.wait_for(self.stream.next_events(), wait_s)
                except TimeoutError:
                    if self.stream.silent_for_ms() > self.silence_limit_ms:
                        await self.stream.reset("silent past its keepalive")
                        raise StreamBroken(
                            f"silent for {self.stream.silent_for_ms()} ms "
                            f"(limit {self.silence_limit_ms} ms)"
                        ) from None
                    continue
                await self.book_events(events)
        finally:
            await _cancelled(self._audit)
            self._audit = None

    def _audit_when_due(self) -> None:
        """Start the audit (an event lost without a gap is found by it) when it is due;
        while the account is paused the audit is its probe, at the probe's pace. It runs
        beside the stream: events keep being booked while its requests are under way
        (booking is idempotent by trade id, and an older view changes no final status)."""
        audit = self._audit
        if audit is not None:
            if not audit.done():
                return
            if not audit.cancelled() and (exc := audit.exception()) is not None:
                log.error("order_audit_crashed", error=repr(exc))
            self._audit = None
        paused = self.poller.paused
        every = self.poller.probe_s if paused else self.audit_s
        if time.monotonic() - self._checked_at > every:
            self._audit = asyncio.ensure_future(self._reconcile("probe" if paused else "audit"))

    async def book_events(self, events: list[OrderEvent]) -> None:
        """Book stream events (see the module docstring), committed together.

        An event that must wait — its order's placement or cancel is in flight, or the
        order is not tracked (yet) — is held for a task of its own (:meth:`_book_held`),
        in order per order, so it never holds up the events of other orders.
        """
        # A fee in a third asset (BNB) is valued in quote as on every other path: at most
        # one ticker request a minute per fee pair (``fees.py``); never raises.
        await self.desk.price_fees(e.trade for e in events if e.trade is not None)
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        for event in events:
            self.events += 1
            self.last_event_ms = int(time.time() * 1000)
            cid = event.order.client_order_id or ""
            if self.desk.grid_of(cid) is None:
                continue  # foreign: the polls and reconciles count them
            if cid in self._held or self.desk.in_flight(cid) or self.book.get(cid) is None:
                self._hold(cid, event)
                continue
            more, acts = self._absorb(cid, event)
            requests += more
            actions += acts
        if requests or actions:
            self._commit((requests, actions))

    def _absorb(self, cid: str, event: OrderEvent) -> Records:
        tracked = self.book.get(cid)
        if tracked is None or not tracked.placed:
            return [], []  # its placement failed meanwhile and was discarded
        trades = [event.trade] if event.trade is not None else []
        return self.desk.booking.absorb(tracked, event.order, trades)

    def _hold(self, cid: str, event: OrderEvent) -> None:
        self._held.setdefault(cid, []).append(event)
        if cid not in self._holders:
            self._holders[cid] = asyncio.ensure_future(self._book_held(cid))

    async def _book_held(self, cid: str) -> None:
        """Book the held events of ``cid`` in order, each once no placement or cancel of
        it is in flight (the request books its own answer first: a fill never overtakes
        its order's Ack); an open order of ours that nobody tracks is adopted."""
        try:
            while held := self._held.get(cid):
                await self.desk.settled(cid)
                event = held.pop(0)
                if event.trade is not None:
                    await self.desk.price_fees([event.trade])
                if self.book.get(cid) is not None:
                    self._commit(self._absorb(cid, event))
                elif event.order.status is OrderStatus.OPEN:  # placed by an earlier life
                    self._commit(await self.desk.on_poll(PollResult(orphans=[event.order])))
        except ExchangeError as exc:  # the next reconcile books what is left
            log.warning("stream_event_deferred_failed", client_order_id=cid, error=str(exc))
        finally:
            self._held.pop(cid, None)
            self._holders.pop(cid, None)

    async def _reconcile(self, why: str) -> bool:
        """One REST poll of the whole account: what the stream may have missed. False
        when it failed (a refusal of the keys pauses the account)."""
        self._checked_at = time.monotonic()
        if not await self.poller.poll_once(every_symbol=True, reason=why):
            return False
        self.reconciles += 1
        return True

    def status(self) -> dict[str, str | int | bool]:
        return {
            telemetry.STREAM_CONNECTED: self.mode is FeedMode.STREAM,
            "order_feed": self.mode.value,
            "order_feed_since": self.since_ms,
            "stream_events": self.events,
            "stream_gaps": self.gaps,
            "stream_reconciles": self.reconciles,
            "stream_connects": self.connects,
            "order_polls": self.poller.polls,
        }


async def _cancelled(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait for it to end (its own error is logged where it ran)."""
    if task is None or task.done():
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
