"""Live fills by the exchange's user-data stream, REST polling only as its fallback.

The follower subscribes (``UserStream.connect`` returns once the exchange confirmed),
then **reconciles over REST** what it may have missed before the subscription (one
``poll``: open orders, and the trades of every tracked order that moved), and only then
trusts the stream: each event is booked as it arrives (``Booking.absorb``: idempotent by
trade id, so a duplicated event, or one the reconcile already booked, is booked once; an
older event arriving after a newer one books its trade and changes no final status).

A gap — the connection dropped, the subscription ended (``eventStreamTerminated``), or
nothing at all (no event, no pong) came for longer than the keepalive — makes it
subscribe again and reconcile again, so a fill made while the stream was down is booked
exactly once. An event lost without any gap (the exchange dropped it) is found by the
audit: a reconcile every ``stream_audit_s`` while on the stream (one request when
nothing moved). After ``stream_fallback_after`` failed subscriptions in a row the account
is **polled** (``poll_interval_ms``) and the stream tried again every
``stream_retry_s``; ``status`` shows which (``order_feed``) and since when.

An event for an order whose placement or cancel is in flight waits for it: the request
books its own answer first, so a fill never overtakes the Ack of its order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import Enum

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.poller import PollResult, poll
from gridsup.actors.execution.tracked_orders import OrderBook
from gridsup.actors.execution.venue import Venue
from gridsup.exchange.errors import AuthenticationError, ExchangeError
from gridsup.exchange.streams import OrderEvent, StreamBroken, UserStream
from gridsup.messages import telemetry
from gridsup.messages.common import OrderStatus

__all__ = ["FeedMode", "StreamFollower"]

log = structlog.get_logger("gridsup.actors.execution")


class FeedMode(Enum):
    """Where the execution actor learns about fills."""

    CONNECTING = "connecting"  # subscribing (and reconciling) after a start or a gap
    STREAM = "stream"  # the user-data stream, trusted
    POLLING = "polling"  # REST polling: the stream failed too often


class StreamFollower:
    """See the module docstring. ``commit`` takes what booking produced (the actor's
    durable-first path)."""

    def __init__(
        self,
        stream: UserStream,
        desk: Desk,
        venue: Venue,
        book: OrderBook,
        commit: Callable[[Records], None],
        *,
        keepalive_ms: int,
        poll_interval_ms: int,
        fallback_after: int,
        retry_s: float,
        audit_s: float = 60.0,
    ) -> None:
        self.stream = stream
        self.desk = desk
        self.venue = venue
        self.book = book
        self._commit = commit
        self.keepalive_ms = keepalive_ms
        self.poll_interval_s = poll_interval_ms / 1000
        self.fallback_after = max(1, fallback_after)
        self.retry_s = retry_s
        self.audit_s = audit_s
        self._reconciled_at = 0.0
        self.mode = FeedMode.CONNECTING
        self.since_ms = int(time.time() * 1000)
        self.events = self.gaps = self.reconciles = self.polls = 0
        self.last_event_ms = 0

    @property
    def connect_timeout_s(self) -> float:
        return max(5.0, 2 * self.keepalive_ms / 1000)

    @property
    def silence_limit_ms(self) -> int:
        """Nothing heard for this long is a gap: one missed pong, and some slack."""
        return self.keepalive_ms + max(500, self.keepalive_ms // 2)

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
                try:
                    # A subscription whose answer never comes (a silent server) is a failure.
                    await asyncio.wait_for(self.stream.connect(), self.connect_timeout_s)
                except (TimeoutError, StreamBroken, AuthenticationError, ExchangeError) as exc:
                    if isinstance(exc, TimeoutError):
                        await self.stream.reset("subscription unanswered")
                    failures += 1
                    log.warning("user_stream_connect_failed", failures=failures, error=str(exc))
                    if failures >= self.fallback_after:
                        self._set(FeedMode.POLLING)
                        await self._poll_for(self.retry_s)
                    else:
                        await self._poll_for(min(2.0**failures * 0.25, self.retry_s))
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
            await self.stream.close()

    async def _follow(self) -> None:
        """Book events until the stream breaks or goes silent.

        Raises:
            StreamBroken: the stream ended or was silent past the keepalive.
        """
        wait_s = max(0.05, min(self.keepalive_ms / 2000, self.audit_s))
        while True:
            if time.monotonic() - self._reconciled_at > self.audit_s:
                await self._reconcile("audit")  # an event lost without a gap: found here
            try:
                events = await asyncio.wait_for(self.stream.next_events(), wait_s)
            except TimeoutError:
                if self.stream.silent_for_ms() > self.silence_limit_ms:
                    await self.stream.reset("silent past its keepalive")
                    raise StreamBroken(
                        f"silent for {self.stream.silent_for_ms()} ms "
                        f"(keepalive {self.keepalive_ms} ms)"
                    ) from None
                continue
            await self.book_events(events)

    async def book_events(self, events: list[OrderEvent]) -> None:
        """Book stream events (see the module docstring)."""
        for event in events:
            self.events += 1
            self.last_event_ms = int(time.time() * 1000)
            order = event.order
            cid = order.client_order_id or ""
            if self.desk.grid_of(cid) is None:
                continue  # foreign: the polls and reconciles count them
            if self.desk.in_flight(cid):
                await self.desk.settled(cid)
            tracked = self.book.get(cid)
            if tracked is None:
                if order.status is OrderStatus.OPEN:  # ours, placed by an earlier life
                    self._commit(await self.desk.on_poll(PollResult(orphans=[order])))
                continue
            if not tracked.placed:
                continue  # its placement failed meanwhile and was discarded
            trades = [event.trade] if event.trade is not None else []
            self._commit(self.desk.booking.absorb(tracked, order, trades))

    async def _reconcile(self, why: str) -> bool:
        """One REST poll: what the stream may have missed. False when it failed."""
        try:
            result = await poll(self.venue, self.book, self.desk.grid_of)
        except ExchangeError as exc:
            log.warning("order_reconcile_failed", reason=why, error=str(exc))
            return False
        self.reconciles += 1
        self._reconciled_at = time.monotonic()
        records = await self.desk.on_poll(result)
        if records[0] or records[1]:
            log.info("order_reconcile_booked", reason=why, changes=len(result.changes))
        self._commit(records)
        return True

    async def _poll_for(self, seconds: float) -> None:
        """Poll the account every ``poll_interval_ms`` for ``seconds`` (the fallback)."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(self.poll_interval_s, remaining))
            if await self._reconcile("poll"):
                self.polls += 1

    def status(self) -> dict[str, str | int | bool]:
        return {
            telemetry.STREAM_CONNECTED: self.mode is FeedMode.STREAM,
            "order_feed": self.mode.value,
            "order_feed_since": self.since_ms,
            "stream_events": self.events,
            "stream_gaps": self.gaps,
            "stream_reconciles": self.reconciles,
        }
