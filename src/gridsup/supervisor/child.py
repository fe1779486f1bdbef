"""One supervised child: its state, its process and every transition, in one place.

All state changes go through :meth:`Child._set` (supervisord's choke point); each branch
is commented with its edge. Time comes in as ``now`` and effects go out through the
:class:`~gridsup.supervisor.effects.Effects` seam, so this is tested without processes.
"""

from __future__ import annotations

import signal

import structlog

from gridsup.messages.control import ActorStatus, StatusValue
from gridsup.supervisor.effects import ActorFailedAlert, AlertHook, Effects, ProcessHandle
from gridsup.supervisor.policy import RestartTracker, Verdict
from gridsup.supervisor.spec import ChildSpec
from gridsup.supervisor.states import ChildState

log = structlog.get_logger("gridsup.supervisor")


class Child:
    """A child spec plus what supervision knows about its current incarnation."""

    def __init__(self, spec: ChildSpec, effects: Effects, alert: AlertHook) -> None:
        self.spec = spec
        self.policy = spec.effective_policy
        self.effects = effects
        self.alert = alert
        self.state = ChildState.NEW
        self.handle: ProcessHandle | None = None
        self.restarts = 0
        self.exitcode: int | None = None
        self.ready_at: float | None = None
        self.last_heartbeat: float | None = None
        # From when a silence counts against it: its last heartbeat, or a moment the
        # supervisor itself came back from being away (see excuse).
        self.heard_at: float | None = None
        self.status: dict[str, StatusValue] = {}
        self.deadline: float | None = None  # meaning depends on the state (see tick)
        self.killing: str | None = None  # why we SIGKILLed the current process
        self.escalated = False  # STOPPING: SIGTERM already sent
        self.tracker = RestartTracker(self.policy)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.handle.pid if self.handle else None

    def _set(self, state: ChildState, event: str, **fields: object) -> None:
        # A child given up on is an alert-worthy event; other transitions are routine.
        emit = log.error if state is ChildState.FAILED else log.info
        emit(
            event,
            actor=self.name,
            kind=self.spec.kind,
            state=state.value,
            previous=self.state.value,
            **fields,
        )
        self.state = state

    # -- commands from supervision ----------------------------------------------------------

    def start(self) -> None:
        """NEW/BACKOFF -> STARTING: spawn a process and wait for its Ready."""
        now = self.effects.now()
        self.status, self.ready_at, self.last_heartbeat, self.killing = {}, None, None, None
        self.heard_at = None
        try:
            self.handle = self.effects.spawn(self.spec)
        except Exception as exc:  # OSError, or EOFError from a dead forkserver
            # Spawning itself failed: treat it as a crash of an incarnation that never ran.
            log.error("actor_spawn_failed", actor=self.name, error=repr(exc))
            self.handle = None
            self._after_exit(None, now)
            return
        self.deadline = now + self.policy.ready_timeout
        self._set(ChildState.STARTING, "actor_spawned", pid=self.handle.pid)

    def stop(self, cancel_orders: bool) -> None:
        """Begin a graceful stop of this child."""
        now = self.effects.now()
        if self.state in (ChildState.NEW, ChildState.BACKOFF):
            # NEW/BACKOFF -> STOPPED: no process to stop.
            self._set(ChildState.STOPPED, "actor_stopped")
        elif self.state is ChildState.RUNNING:
            # RUNNING -> STOPPING: ask nicely over the command socket; SIGTERM later.
            assert self.handle is not None
            self.effects.send_stop(self.name, cancel_orders)
            self.deadline, self.escalated = now + self.policy.stop_timeout, False
            self._set(ChildState.STOPPING, "actor_stopping")
        elif self.state is ChildState.STARTING:
            # STARTING -> STOPPING: it may not be subscribed yet, so signal it directly.
            assert self.handle is not None
            self.effects.signal(self.handle, signal.SIGTERM)
            self.deadline, self.escalated = now + self.policy.stop_timeout, True
            self._set(ChildState.STOPPING, "actor_stopping")

    # -- events from the process ------------------------------------------------------------

    def on_ready(self, pid: int) -> None:
        if pid != self.pid:
            return  # a previous incarnation's report, still in flight
        if self.state is ChildState.STARTING:
            # STARTING -> RUNNING
            now = self.effects.now()
            self.ready_at = self.last_heartbeat = self.heard_at = now
            self.deadline = None
            self._set(ChildState.RUNNING, "actor_running", pid=pid)

    def on_heartbeat(self, pid: int, status: dict[str, StatusValue]) -> None:
        if pid != self.pid:
            return
        self.last_heartbeat = self.heard_at = self.effects.now()
        self.status = status

    def on_failed(self, pid: int, reason: str) -> None:
        if pid == self.pid:
            log.warning("actor_reported_failure", actor=self.name, pid=pid, reason=reason)

    def on_exit(self, pid: int, exitcode: int | None) -> None:
        """The process ``pid`` is gone (its sentinel fired)."""
        if pid != self.pid:
            return
        now = self.effects.now()
        self.exitcode = exitcode
        self.handle = None
        if self.state is ChildState.STOPPING:
            # STOPPING -> STOPPED
            self._set(ChildState.STOPPED, "actor_stopped", exitcode=exitcode)
            return
        log.warning(
            "actor_exited", actor=self.name, pid=pid, exitcode=exitcode, killed=self.killing
        )
        self._after_exit(exitcode, now)

    def _after_exit(self, exitcode: int | None, now: float) -> None:
        decision = self.tracker.on_exit(now, exitcode if self.killing is None else None)
        if decision.verdict is Verdict.RESTART:
            # STARTING/RUNNING -> BACKOFF
            self.restarts += 1
            self.deadline = now + decision.delay
            self._set(
                ChildState.BACKOFF,
                "actor_backing_off",
                delay=decision.delay,
                restarts=self.restarts,
            )
        elif decision.verdict is Verdict.FAIL:
            # STARTING/RUNNING -> FAILED: too many restarts in the period, or an exit code
            # that no restart can cure (a grid locked elsewhere); give up, alert.
            self.deadline = None
            reason = decision.reason
            self._set(
                ChildState.FAILED,
                "actor_failed",
                restarts=self.restarts,
                exitcode=exitcode,
                reason=reason,
            )
            self.alert(ActorFailedAlert(self.name, self.spec.kind, self.restarts, exitcode, reason))
        else:
            # STARTING/RUNNING -> EXITED: the policy does not restart this exit.
            self.deadline = None
            self._set(ChildState.EXITED, "actor_exited_for_good", exitcode=exitcode)

    # -- time -----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Act on whatever deadline has passed."""
        if self.state is ChildState.BACKOFF and self.deadline is not None and now >= self.deadline:
            # BACKOFF -> STARTING
            self.start()
        elif self.state is ChildState.STARTING and self.killing is None:
            if self.deadline is not None and now >= self.deadline:
                self._kill("ready_timeout")
        elif self.state is ChildState.RUNNING and self.killing is None:
            assert self.heard_at is not None
            silence = now - self.heard_at
            if silence > self.policy.heartbeat_interval * self.policy.heartbeat_liveness:
                self._kill("heartbeat_lost", silence=round(silence, 3))
        elif (
            self.state is ChildState.STOPPING
            and self.handle is not None
            and self.deadline is not None
        ):
            half = self.deadline - self.policy.stop_timeout / 2
            if now >= self.deadline and self.killing is None:
                self._kill("stop_timeout")
            elif now >= half and not self.escalated:
                self.escalated = True
                log.warning("actor_stop_escalated", actor=self.name, signal="SIGTERM")
                self.effects.signal(self.handle, signal.SIGTERM)

    def next_deadline(self) -> float | None:
        """When :meth:`tick` may next have something to do (None: only an event can
        change this child). A deadline that has passed means "tick now"."""
        if self.state in (ChildState.BACKOFF, ChildState.STARTING):
            return self.deadline if self.killing is None else None
        if self.state is ChildState.RUNNING and self.killing is None:
            assert self.heard_at is not None
            p = self.policy
            return self.heard_at + p.heartbeat_interval * p.heartbeat_liveness
        if self.state is ChildState.STOPPING and self.handle is not None:
            if self.deadline is None:
                return None
            if not self.escalated:
                return self.deadline - self.policy.stop_timeout / 2
            return self.deadline if self.killing is None else None
        return None

    def excuse(self, now: float, away: float) -> None:
        """The supervisor was away ``away`` seconds past a deadline (its loop blocked
        or starved of CPU): what it did not hear meanwhile is no evidence against this
        child. Its heartbeat silence counts from now, a ready deadline moves back."""
        if self.state is ChildState.RUNNING and self.heard_at is not None:
            self.heard_at = max(self.heard_at, now)
        elif self.state is ChildState.STARTING and self.deadline is not None:
            self.deadline += away

    def _kill(self, why: str, **fields: object) -> None:
        # The state stays as it is until the sentinel reports the exit (on_exit).
        assert self.handle is not None
        self.killing = why
        log.warning("actor_killed", actor=self.name, pid=self.handle.pid, why=why, **fields)
        self.effects.signal(self.handle, signal.SIGKILL)

    def snapshot(self, now: float) -> ActorStatus:
        return ActorStatus(
            name=self.name,
            kind=self.spec.kind,
            state=self.state.value,
            pid=self.pid,
            uptime=None
            if self.ready_at is None or self.handle is None
            else round(now - self.ready_at, 3),
            restarts=self.restarts,
            last_heartbeat_age=(
                None
                if self.last_heartbeat is None or self.handle is None
                else round(now - self.last_heartbeat, 3)
            ),
            status=dict(self.status),
        )

    def __repr__(self) -> str:
        return f"<Child {self.name} {self.state.value} pid={self.pid} restarts={self.restarts}>"
