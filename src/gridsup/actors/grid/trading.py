"""A strategy actor's trading path: a state machine driven by callbacks, not a task.

The socket handlers hand it ticks and order updates; it queues them and pumps: a resync
first, then the order events in turn, then the latest tick, each applied to the strategy
until one needs a commit, which keeps it busy until every reply of its save and trade
records is in (:class:`~gridsup.actors.grid.commit.GridCommitter`); the last reply
sends the orders and pumps again. Only a resync (it awaits a query) runs as a task, of
the actor's, busy meanwhile. No asyncio hop between an event and its save.

Order updates are sequence-numbered per grid (Clone pattern): a gap or a new execution
epoch asks for a resync -- the same query and reconciliation as a start.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import assert_never

import structlog

from gridsup.actors.grid.commit import GridCommitter
from gridsup.actors.grid.context import OutboxContext
from gridsup.actors.grid.lifecycle import GridActorState
from gridsup.actors.grid.orders import apply_update
from gridsup.messages.alerts import AlertCause, AlertKind, AlertSeverity, GridAlert
from gridsup.messages.market import Tick
from gridsup.messages.orders import OrderRejected, OrderUpdate
from gridsup.strategy.grid import GridTradingStrategy

log = structlog.get_logger("gridsup.actors.strategy")

MAX_QUEUED = 10_000  # queued order events; beyond this, drop them and resync instead

# What the actor does with an alert of the grid's: tell the supervisor (Actor.raise_alert).
RaiseAlert = Callable[[AlertCause, str, str, AlertSeverity], None]


class GridTrading:
    """The trading path of grid ``grid`` (see the module docstring).

    ``state`` is the grid's state (nothing is applied once it is ABORTED); ``held`` says
    the actor takes nothing now (it stops, or it is paused); ``resync`` has the actor
    reconcile, as a task, and call :meth:`resume` when done; ``settled`` runs each time
    the queue goes idle (the actor follows the strategy's tick band); ``raise_alert``
    tells the supervisor of an alert of the grid's. The committer comes at start
    (:attr:`committer`); until :meth:`resume` is first called the path is busy.
    """

    def __init__(
        self,
        strategy: GridTradingStrategy,
        outbox: OutboxContext,
        grid: str,
        *,
        state: Callable[[], GridActorState],
        held: Callable[[], bool],
        resync: Callable[[], object],
        settled: Callable[[], None],
        raise_alert: RaiseAlert,
    ) -> None:
        self.strategy = strategy
        self.outbox = outbox
        self.grid = grid
        self._state = state
        self._held = held
        self._resync_task = resync
        self._settled = settled
        self._raise_alert = raise_alert
        self.committer: GridCommitter | None = None  # saves, trade records, then orders
        self.seq = 0  # of the last order update applied
        self.epoch: int | None = None  # the execution actor's, as of the last snapshot
        self.resyncs = 0
        self.events_handled = 0
        self.fills_seen = 0  # order updates with a fill handled by this process
        self.alerts_raised = 0
        # Where the grid's alerts go besides the log and the supervisor.
        self.alert_hook: Callable[[GridAlert], None] | None = None
        # Busy: a commit in flight, a resync running, or the start not done; the events
        # queue meanwhile and are taken in turn once it is not.
        self.busy = True
        self.quiet_since = time.monotonic()  # when the queue last went idle
        self._events: deque[OrderUpdate | OrderRejected] = deque()
        self._tick: Tick | None = None  # the latest tick, still to be handled
        self._resync = False
        self._pumping = False

    @property
    def queued(self) -> int:
        """Order events waiting their turn."""
        return len(self._events)

    def tick(self, tick: Tick) -> None:
        """A tick the strategy can use: it replaces any tick still waiting."""
        self._tick = tick
        self.pump()

    def update(self, update: OrderUpdate) -> None:
        """An order update, queued (too many queued: dropped, and a resync instead)."""
        if len(self._events) >= MAX_QUEUED:
            log.warning("order_events_overflowed", grid=self.grid, queued=MAX_QUEUED)
            self._events.clear()
            self._resync = True
        else:
            self._events.append(update)
        self.pump()

    def refused(self, rejection: OrderRejected) -> None:
        """A placement refused for good: an event for the strategy, in turn."""
        self._events.append(rejection)
        self.pump()

    def resync_soon(self) -> None:
        """Reconcile before the next event (a Resume, a quiet spell)."""
        self._resync = True
        self.pump()

    def resume(self) -> None:
        """A commit (or a resync, or the start) is through: not busy any more, take the
        next event."""
        self.busy = False
        self.pump()

    def idle(self, period: float) -> float:
        """The idle timer fired; the seconds until it should fire again. Quiet for
        ``period`` while trading with orders out: check the sequence with a snapshot, in
        case the one update that would have shown a gap was lost (a slow-joining SUB).

        Armed once and moved lazily: an event only moves :attr:`quiet_since` (no timer
        per event); a timer that fires early waits out the rest, one that fires while
        busy waits a whole period again.
        """
        if self.busy:
            return period
        left = self.quiet_since + period - time.monotonic()
        if left > 0:
            return left
        if self._state() is GridActorState.TRADING and self.strategy.tracked_orders():
            self.resync_soon()
        return period

    def pump(self) -> None:
        """Apply what is queued -- a resync first, then order events in turn, then the
        latest tick -- until one needs a commit (busy until its replies are in) or
        nothing is left; then ``settled``.

        Does nothing while busy (a commit in flight, a resync, the start), while held
        (stopping, paused), or when called back from inside itself (a commit that had
        nothing to wait for).
        """
        if self.busy or self._pumping or self._held():
            return
        self._pumping = True
        try:
            while not self.busy and self._state() is not GridActorState.ABORTED:
                if self._resync:
                    self._resync = False
                    self.resyncs += 1
                    self.busy = True
                    self._resync_task()
                elif self._events:
                    self._handle(self._events.popleft())
                elif self._tick is not None:
                    tick, self._tick = self._tick, None
                    self.strategy.on_tick(tick)
                    if self.outbox.has_actions:
                        self._commit()
                else:
                    break
        finally:
            self._pumping = False
        if not self.busy:
            self.quiet_since = time.monotonic()
            self._settled()

    def _handle(self, event: OrderUpdate | OrderRejected) -> None:
        match event:
            case OrderUpdate():
                if event.epoch != self.epoch or event.seq > self.seq + 1:
                    log.info(
                        "order_updates_resynced",
                        grid=self.grid,
                        seq=event.seq,
                        expected=self.seq + 1,
                        epoch=event.epoch,
                    )
                    self._events.clear()  # the snapshot will cover them
                    self._resync = True
                    return
                if event.seq <= self.seq:
                    return  # already in the snapshot
                self.seq = event.seq
                changed = apply_update(self.strategy, event)
                self.fills_seen += event.fill is not None
            case OrderRejected(client_order_id=cid, reason=reason):
                changed = self.strategy.tracks(cid)
                if changed:
                    self.strategy.on_order_rejected(cid, reason)
            case _ as unreachable:
                assert_never(unreachable)
        self.events_handled += 1
        if changed or self.outbox.has_actions:
            self._commit()

    def _commit(self) -> None:
        """Commit what the strategy asked for: see :meth:`GridCommitter.commit`. Busy
        until its replies are in."""
        assert self.committer is not None
        self.busy = True
        self._raise_alerts()
        self.committer.commit(self.outbox.take())

    def _raise_alerts(self) -> None:
        """Hand the strategy's new alerts to the supervisor and the hook (logged at
        error either way)."""
        for alert in self.strategy.drain_alerts():
            self.alerts_raised += 1
            log.error(
                "grid_alert_raised",
                grid=alert.grid,
                kind=alert.kind.value,
                reason=alert.reason,
                slot=alert.slot,
            )
            # One place tells the operator: the supervisor (deduplicated, rate-limited).
            cause = (
                AlertCause.SLOT_GIVEN_UP
                if alert.kind is AlertKind.LEVEL_REFUSED
                else AlertCause.GRID_STOPPED
            )
            self._raise_alert(cause, alert.grid, alert.reason, AlertSeverity.CRITICAL)
            if self.alert_hook is not None:
                self.alert_hook(alert)
