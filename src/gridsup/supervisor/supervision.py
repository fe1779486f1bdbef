"""Supervision as a reconcile loop over children: start in group order, watch, restart,
stop in reverse order. Pure logic over the :class:`~gridsup.supervisor.effects.Effects`
seam; the asyncio shell (:mod:`gridsup.supervisor.runner`) feeds it events and ticks.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable

import structlog

from gridsup.messages.control import ActorStatus, StatusValue
from gridsup.supervisor.child import Child
from gridsup.supervisor.effects import AlertHook, Effects, log_alert
from gridsup.supervisor.spec import ChildSpec, Group, check_specs
from gridsup.supervisor.states import SETTLED_STATES, TERMINAL_STATES, ChildState, SupervisorState

log = structlog.get_logger("gridsup.supervisor")

# A tick this many seconds past its earliest deadline: the supervisor itself was away.
LATE_S = 1.0
# At most about this long spent spawning per turn of the event loop (seconds).
SPAWN_SLICE_S = 0.05


class Supervision:
    """One-for-one supervision of ``specs``; each child is independent of its siblings.

    Raises:
        SpecError: (constructor) two children share a name.
    """

    def __init__(
        self,
        specs: list[ChildSpec],
        effects: Effects,
        alert: AlertHook = log_alert,
        spawn_batch: int = 8,
        changed: Callable[[], None] = lambda: None,
        max_starting: int = 64,
    ) -> None:
        check_specs(specs)
        self.effects = effects
        # Called after every event that may bring a deadline forward (an exit, a Ready
        # that starts the next group, a stop), whoever calls it: the shell sleeps until
        # next_deadline() and this wakes it.
        self.changed = changed
        self.state = SupervisorState.STARTING
        self.started_at = effects.now()
        # Stable sort: the group decides the order, the spec list order breaks ties.
        ordered = sorted(specs, key=lambda s: s.group)
        self._alert = alert
        self.children = {s.name: Child(s, effects, alert) for s in ordered}
        self.groups: list[tuple[Group, list[Child]]] = [
            (group, [self.children[s.name] for s in members])
            for group, members in itertools.groupby(ordered, key=lambda s: s.group)
        ]
        self._next_group = 0  # index into groups of the next group to start
        self._stop_group: int | None = None  # index of the group being stopped
        self.cancel_orders = False
        # Children of the current group not spawned yet: spawning is synchronous, so a
        # group of hundreds is spawned a batch per turn of the event loop, letting the
        # supervisor's heartbeats and the Ready reports flow in between.
        self._pending: deque[Child] = deque()
        self.spawn_batch = spawn_batch
        # At most this many children spawned and not yet Ready: a thousand grids started
        # at once starve every process of CPU, the infrastructure actors and this one
        # included, until heartbeats are missed and actors killed (bench/thousand.py).
        self.max_starting = max_starting
        # The earliest deadline as of the last tick: a tick much later than that means
        # this process was away (see tick).
        self._planned: float | None = None
        # Children asked to stop for good (a grid handed to another cluster member):
        # forgotten once their process is gone.
        self._retiring: set[str] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin starting: the first group is spawned now, the rest as each becomes Ready."""
        self._start_next_group()

    def stop(self, cancel_orders: bool = False) -> None:
        """Stop every child, group by group in reverse start order (idempotent)."""
        if self.state in (SupervisorState.STOPPING, SupervisorState.STOPPED):
            return
        log.info("supervisor_stopping", cancel_orders=cancel_orders)
        self.state, self.cancel_orders = SupervisorState.STOPPING, cancel_orders
        self._pending.clear()
        self._stop_group = len(self.groups)
        self._advance_stop()
        self.changed()

    @property
    def done(self) -> bool:
        return self.state is SupervisorState.STOPPED

    @property
    def spawning(self) -> bool:
        """Children wait to be spawned and may be now: call :meth:`tick` again soon.
        (While ``max_starting`` children are starting, the next Ready or exit wakes the
        shell instead.)"""
        return bool(self._pending) and self._room() > 0

    # -- children that come and go (cluster placement) ----------------------------------------

    def add(self, spec: ChildSpec) -> bool:
        """Start supervising ``spec`` now (a grid this member has just been given).

        A child of that name still alive is left alone (False); one that ended (stopped,
        exited, failed: e.g. its grid's lock was still held by the previous owner) is
        replaced by a fresh one, with fresh restart intensity. Only while running: during
        the start the group order decides, during a stop nothing new starts.
        """
        if self.state is not SupervisorState.RUNNING:
            return False
        old = self.children.get(spec.name)
        if old is not None and old.state not in TERMINAL_STATES:
            self._retiring.discard(spec.name)  # wanted again before it went: keep it
            return False
        if old is not None:
            self._forget(spec.name)
        check_specs([spec])
        child = Child(spec, self.effects, self._alert)
        self.children[spec.name] = child
        for group, members in self.groups:
            if group == spec.group:
                members.append(child)
                break
        else:
            self.groups.append((spec.group, [child]))
            self.groups.sort(key=lambda entry: entry[0])
            self._next_group = len(self.groups)
        log.info("actor_added", actor=spec.name)
        child.start()
        self.changed()
        return True

    def retire(self, name: str) -> bool:
        """Stop ``name`` gracefully for good (orders stay on the exchange) and forget it
        once its process is gone; False when there is no such child."""
        child = self.children.get(name)
        if child is None:
            return False
        log.info("actor_retiring", actor=name)
        self._retiring.add(name)
        child.stop(cancel_orders=False)
        self._progress()
        self.changed()
        return True

    def _forget(self, name: str) -> None:
        child = self.children.pop(name)
        self._retiring.discard(name)
        for _, members in self.groups:
            if child in members:
                members.remove(child)
        log.info("actor_removed", actor=name)

    # -- events -----------------------------------------------------------------------------

    def on_ready(self, name: str, pid: int) -> None:
        child = self.children.get(name)
        if child is not None:
            child.on_ready(pid)
            self._progress()
            self.changed()

    def on_heartbeat(self, name: str, pid: int, status: dict[str, StatusValue]) -> None:
        child = self.children.get(name)
        if child is not None:
            child.on_heartbeat(pid, status)

    def on_failed(self, name: str, pid: int, reason: str) -> None:
        child = self.children.get(name)
        if child is not None:
            child.on_failed(pid, reason)

    def on_exit(self, name: str, pid: int, exitcode: int | None) -> None:
        child = self.children.get(name)
        if child is not None:
            child.on_exit(pid, exitcode)
            self._progress()
            self.changed()

    def tick(self) -> None:
        """Act on passed deadlines (backoff over, ready timeout, heartbeats missing ...).

        A tick more than ``LATE_S`` after the earliest deadline it was due for means the
        supervisor was away (its loop blocked, its process starved of CPU while a
        thousand actors start): the heartbeats it did not read meanwhile are no
        evidence of hung actors, so every child is excused for that time first."""
        self._spawn_some()
        now = self.effects.now()
        if self._planned is not None and now - self._planned > LATE_S:
            self.excuse(now - self._planned)
        stopping = self.state is SupervisorState.STOPPING
        for child in self.children.values():
            if stopping and child.state is ChildState.BACKOFF:
                continue  # never restart while stopping (stop() settles these)
            if stopping and child.state is ChildState.RUNNING:
                # Waiting for its group's turn to stop: a silence now (a thousand grids
                # exiting at once starve it of CPU) is no reason to SIGKILL persistence
                # before it drains; its own stop escalates if it hangs.
                continue
            child.tick(now)
        self._progress()
        self._planned = self.next_deadline()

    def excuse(self, away: float) -> None:
        """The supervisor was away ``away`` seconds (a tick or a beat that late): the
        heartbeats it did not read, or did not ask for, are held against no child."""
        now = self.effects.now()
        log.warning("supervisor_late", seconds=round(away, 3))
        for child in self.children.values():
            child.excuse(now, away)

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`tick` has something to do: now while children wait
        to be spawned, else the earliest child deadline (None: nothing until an event).
        The shell sleeps until then instead of polling, so an idle fleet costs the
        supervisor no wake-ups but the reports it receives."""
        if self.spawning:
            return self.effects.now()
        stopping = self.state is SupervisorState.STOPPING
        deadlines = [
            d
            for c in self.children.values()
            if not (stopping and c.state in (ChildState.BACKOFF, ChildState.RUNNING))
            and (d := c.next_deadline()) is not None
        ]
        return min(deadlines, default=None)

    # -- status -----------------------------------------------------------------------------

    def status(self) -> tuple[ActorStatus, ...]:
        now = self.effects.now()
        return tuple(child.snapshot(now) for child in self.children.values())

    # -- internals --------------------------------------------------------------------------

    def _progress(self) -> None:
        for name in [n for n in self._retiring if self.children[n].state in TERMINAL_STATES]:
            self._forget(name)
        if self.state is SupervisorState.STARTING:
            _, current = self.groups[self._next_group - 1] if self._next_group else (None, [])
            if all(c.state in SETTLED_STATES for c in current):
                self._start_next_group()
        elif self.state is SupervisorState.STOPPING:
            self._advance_stop()

    def _start_next_group(self) -> None:
        if self._next_group >= len(self.groups):
            self.state = SupervisorState.RUNNING
            log.info("supervisor_running", actors=len(self.children))
            return
        group, members = self.groups[self._next_group]
        self._next_group += 1
        log.info("group_starting", group=group.name.lower(), actors=len(members))
        self._pending.extend(members)
        self._spawn_some()

    def _room(self) -> int:
        """How many more children may start now (see ``max_starting``)."""
        starting = sum(c.state is ChildState.STARTING for c in self.children.values())
        return self.max_starting - starting

    def _spawn_some(self) -> None:
        if not self._pending:
            return
        began = self.effects.now()
        for _ in range(min(self.spawn_batch, len(self._pending), self._room())):
            child = self._pending.popleft()
            if child.state is ChildState.NEW:
                child.start()
            if self.effects.now() - began > SPAWN_SLICE_S:
                break  # a loaded forkserver is slow to answer: let reports and beats run

    def _advance_stop(self) -> None:
        assert self._stop_group is not None
        while True:
            if self._stop_group < len(self.groups):
                _, members = self.groups[self._stop_group]
                if not all(c.state in TERMINAL_STATES for c in members):
                    return  # wait for this group's exits (sentinels) before the previous one
            if self._stop_group == 0:
                self.state = SupervisorState.STOPPED
                log.info("supervisor_stopped")
                return
            self._stop_group -= 1
            group, members = self.groups[self._stop_group]
            log.info("group_stopping", group=group.name.lower(), actors=len(members))
            for child in members:
                child.stop(self.cancel_orders)
