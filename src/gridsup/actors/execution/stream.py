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
nothing moved). After ``stream_fallback_after`` failed subscriptions in a row the account
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
books its own answer first, so a fill never overtakes the Ack of its order.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from enum import Enum

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.poller import PollResult
from gridsup.actors.execution.polling import AccountPoller
from gridsup.actors.execution.tracked_orders import OrderBook
from gridsup.exchange.errors import AuthenticationError, ExchangeError
from gridsup.exchange.streams import OrderEvent, StreamBroken, UserStream, stale_after_ms
from gridsup.messages import telemetry
from gridsup.messages.common import OrderStatus

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
        book: OrderBook,
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
            await self.stream.close()

    async def _follow(self) -> None:
        """Book events until the stream breaks or goes silent.

        Raises:
            StreamBroken: the stream ended or was silent past its limit.
        """
        wait_s = max(0.05, min(self.keepalive_ms / 2000, self.audit_s))
        while True:
            # An event lost without a gap is found by the audit; while the account is
            # paused the audit is its probe, at the probe's pace.
            paused = self.poller.paused
            every = self.poller.probe_s if paused else self.audit_s
            if time.monotonic() - self._checked_at > every:
                await self._reconcile("probe" if paused else "audit")
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
