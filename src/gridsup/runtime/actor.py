"""The actor base class: explicit lifecycle, declared sockets, one asyncio loop.

A subclass declares its sockets (:meth:`Actor.sockets`), a receiving one with its
handler (:class:`~gridsup.runtime.sockets.Receiver`: a codec and a method that matches
the codec's union exhaustively), and fills in the hooks (:meth:`on_start`,
:meth:`on_stop`, :meth:`status`); the final template method :meth:`Actor.run` does the
rest: open sockets, report ``Ready``, dispatch frames, heartbeat to the supervisor, watch
for its death, stop cleanly on SIGTERM or a ``Stop`` command (the supervisor's side:
:mod:`gridsup.runtime.supervisor_link`). Frames that do not decode are logged, counted
and dropped.

Frames are dispatched from the socket's file-descriptor callback itself (the reading
and writing: :mod:`gridsup.runtime.dispatch`): a handler runs in the loop iteration that
saw the descriptor fire, with no task in between, and so must be synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
import zmq
import zmq.asyncio

from gridsup.messages.alerts import AlertCause, AlertRaised, AlertSeverity
from gridsup.messages.control import Failed, Heartbeat, Pause, Ready, Resume, StatusValue
from gridsup.runtime import endpoints
from gridsup.runtime.dispatch import ActorSockets
from gridsup.runtime.sockets import SocketSpec
from gridsup.runtime.states import ActorState, ActorTrigger, Lifecycle
from gridsup.runtime.supervisor_link import COMMAND, REPORT, SupervisorLink, control_sockets

log = structlog.get_logger("gridsup.actors")


class StopReason(enum.Enum):
    REQUESTED = "requested"  # a Stop command from the supervisor
    SIGNAL = "signal"  # SIGTERM
    SELF = "self"  # the actor called request_stop()
    ORPHANED = "orphaned"  # the supervisor is gone: exit without side effects
    CRASHED = "crashed"  # a hook raised


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """What the supervisor tells a child about its place in the run."""

    name: str
    kind: str
    run_dir: str
    heartbeat_interval: float = 1.0
    # Which of the supervisor's staggered beats of that interval this actor answers
    # (runner.BeatPlan): a large fleet heartbeats in small groups, not all at once.
    beat_phase: int = 0
    # Seconds without a supervisor heartbeat before the actor considers itself orphaned.
    # Generous: a parent that is gone is noticed at once through getppid(); this catches a
    # supervisor that is alive but wedged, and must not fire when it is merely starved.
    supervisor_timeout: float = 10.0
    supervisor_pid: int | None = None
    stop_timeout: float = 5.0


class Actor:
    """Base of every gridsup actor. Subclasses override the hooks, never :meth:`run`."""

    def __init__(self) -> None:
        self.lifecycle = Lifecycle()
        self.info: RuntimeInfo | None = None
        self.run_dir: endpoints.RunDir | None = None
        self.ctx: zmq.asyncio.Context | None = None
        self.stop_reason: StopReason | None = None
        self.cancel_orders = False
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._crash: BaseException | None = None
        self._io = ActorSockets(lambda: self.name, self._crashed, uncounted=(COMMAND,))
        self._link = SupervisorLink(
            self,
            stop_requested=partial(self.request_stop, StopReason.REQUESTED),
            orphaned=partial(self.request_stop, StopReason.ORPHANED),
            report=self._report,
            crashed=self._crashed,
            stopping=self._stop.is_set,
        )

    # -- hooks --------------------------------------------------------------------------

    def sockets(self) -> Sequence[SocketSpec]:
        """The actor's own sockets; ``self.run_dir`` is set when this is called.

        A socket's handler (its :class:`~gridsup.runtime.sockets.Receiver`) gets each
        decoded message and its envelope (the frames before the payload: topic, ROUTER
        identity), synchronously: it is called from the socket's file-descriptor
        callback, in order, before the next frame is read. Work that must wait goes to
        :meth:`spawn`; a handler that returns an awaitable crashes the actor (it would
        never run), as does one that raises (the supervisor restarts it).
        """
        return ()

    async def on_start(self) -> None:
        """Set up (load state, reconcile ...). Runs before ``Ready`` is reported; the
        sockets' handlers are called only after it."""

    async def on_stop(self, reason: StopReason) -> None:
        """Clean up before the sockets close. Not called when orphaned or crashed."""

    def on_control(self, message: Pause | Resume) -> None:
        """A ``Pause`` or ``Resume`` command from the supervisor; ignored (logged) by
        actors that have nothing to pause. Raising crashes the actor."""
        log.warning("control_ignored", actor=self.name, command=type(message).__name__)

    def status(self) -> dict[str, StatusValue]:
        """Extra fields for heartbeats and ``gridsup status`` (flat scalars)."""
        return {}

    # -- what subclasses may call -------------------------------------------------------

    @property
    def name(self) -> str:
        return self.info.name if self.info else type(self).__name__

    @property
    def state(self) -> ActorState:
        return self.lifecycle.state

    @property
    def messages_received(self) -> int:
        """Messages handed to the actor's handlers (the supervisor's commands not counted)."""
        return self._io.messages_received

    @property
    def frames_dropped(self) -> int:
        """Frames that did not decode."""
        return self._io.frames_dropped

    @property
    def sends_dropped(self) -> int:
        """Sends refused by a full queue."""
        return self._io.sends_dropped

    def send(
        self,
        socket: str,
        message: Any,
        *,
        topic: bytes | None = None,
        envelope: Sequence[bytes] = (),
    ) -> bool:
        """Encode ``message`` with the socket's send codec and send it without blocking.

        Returns False (and counts a drop) when the socket's queue is full.

        Raises:
            KeyError: no socket called ``socket``.
            ValueError: the socket has no send codec.
        """
        return self._io.send(socket, message, topic=topic, envelope=envelope)

    def send_frames(self, socket: str, frames: Sequence[bytes]) -> bool:
        """Send raw frames without blocking; False (and a counted drop) if the queue is full."""
        return self._io.send_frames(socket, frames)

    async def wait_readable(self, socket: str) -> None:
        """Return once a frame waits on ``socket`` (for actors that read a socket
        themselves instead of through a ``Receiver``)."""
        await self._io.wait_readable(socket)

    def read_with(self, socket: str, reader: Callable[[], bool] | None) -> None:
        """Have ``reader`` called from ``socket``'s file-descriptor callback whenever
        frames may wait on it (``None``: stop; a closed socket is ignored then); for
        sockets that the actor reads itself, before Ready too. No task, no wake-up in
        between: the cheapest way to read a socket.

        ``reader`` must receive with ``zmq.NOBLOCK`` until ``zmq.Again`` or until
        ZMQ_EVENTS lacks POLLIN (:func:`gridsup.runtime.sockets.drain` does both), or
        stop early and return True to be called again on the next loop iteration. An
        exception from it crashes the actor, like one in a hook, and stops the reading.

        Raises:
            KeyError: no socket called ``socket`` (when installing a reader).
        """
        self._io.read_with(socket, reader)

    def subscribe(self, socket: str, topic: bytes, on: bool = True) -> None:
        """Start (``on``) or stop receiving ``topic`` on SUB socket ``socket``.

        With ipc:// and tcp:// the publisher filters: an unsubscribed topic costs this
        process no wake-up at all.
        """
        self._io.subscribe(socket, topic, on)

    def socket(self, name: str) -> zmq.Socket[bytes]:
        """The (synchronous) socket ``name``, for non-blocking reads and sends; wait
        with :meth:`wait_readable`. Never wrap it in a ``zmq.asyncio.Socket``: that
        would replace the runtime's reader on its file descriptor (see OpenSocket)."""
        return self._io.socket(name)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a background task, cancelled when the actor stops; an
        exception in it crashes the actor, like one in a hook."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def request_stop(self, reason: StopReason = StopReason.SELF) -> None:
        """Begin a clean stop (idempotent: the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    # -- the template ---------------------------------------------------------------------

    async def run(self, info: RuntimeInfo, ctx: zmq.asyncio.Context) -> int:
        """Live the actor's whole life; return the process exit code (0 clean, 1 crashed).

        Raises:
            InvalidTransition: only on a bug in the lifecycle handling.
        """
        self.info, self.ctx = info, ctx
        self.run_dir = endpoints.RunDir.attach(info.run_dir)
        self._link.reset()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, StopReason.SIGNAL)
        try:
            try:
                self._open_sockets()
            except Exception as exc:  # a bind that fails (address in use ...) is a crash
                self._crashed(exc)
            else:
                await self._start()
            if self._crash is None and not self._stop.is_set():
                self.lifecycle.fire(ActorTrigger.STARTED)
                self._report(Ready(actor=self.name, pid=os.getpid()))
                log.info("actor_ready", actor=self.name, kind=info.kind)
                self._io.dispatch()
                self._link.start()
                self.lifecycle.fire(ActorTrigger.RUN)
                await self._stop.wait()
        finally:
            code = await self._shutdown()
        return code

    async def _start(self) -> None:
        start = asyncio.ensure_future(self.on_start())
        stop = asyncio.ensure_future(self._stop.wait())
        # The heartbeat task (which notices a dead supervisor) starts only after Ready: an
        # on_start waiting for an answer that never comes must notice it too, or it would
        # outlive its supervisor holding whatever it took (a grid's lock).
        orphan = asyncio.ensure_future(self._link.watch_parent())
        try:
            await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            orphan.cancel()
        if not start.done():  # stopped (SIGTERM) while starting
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await start
        elif start.exception() is not None:
            self._crashed(start.exception())

    async def _shutdown(self) -> int:
        reason = self.stop_reason or StopReason.SELF
        if self._crash is not None:
            reason = StopReason.CRASHED
        if self.lifecycle.state is not ActorState.STARTING or reason is not StopReason.CRASHED:
            # A failing on_start leaves the actor visibly STARTING until it exits.
            self.lifecycle.fire(ActorTrigger.STOP)
        self._link.close()
        # No more dispatch, from now on (on_stop may read a socket itself, as before Ready).
        self._io.stop_reading()
        await self._cancel_tasks(reason)
        if reason not in (StopReason.ORPHANED, StopReason.CRASHED):
            try:
                await asyncio.wait_for(
                    self.on_stop(reason), self.info.stop_timeout if self.info else 5
                )
            except Exception as exc:  # on_stop failing must not keep the process alive
                log.error("actor_stop_failed", actor=self.name, error=repr(exc))
                self._crash = self._crash or exc
        if self._crash is not None:
            self._report(Failed(actor=self.name, pid=os.getpid(), reason=repr(self._crash)))
        # Orphaned: nothing more may leave this process, so queued frames are dropped.
        # Otherwise (a crash too: its Failed report) the socket's bounded linger applies.
        self._io.close(0 if reason is StopReason.ORPHANED else None)
        if self.lifecycle.state is ActorState.STOPPING:
            self.lifecycle.fire(ActorTrigger.STOPPED)
        log.info("actor_stopped", actor=self.name, reason=reason.value, state=self.state.value)
        return 1 if self._crash is not None else 0

    # -- internals ------------------------------------------------------------------------

    async def _cancel_tasks(self, reason: StopReason) -> None:
        """Cancel the background tasks and wait for them, for a bounded time.

        A task that ignores its cancellation (a retry loop catching it, a ``wait_for`` that
        swallowed it) must not keep the process alive: an orphaned actor still holding its
        grid's lock would keep a restarted supervisor from running that grid.
        """
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        limit = self.info.stop_timeout if self.info else 5.0
        if reason is StopReason.ORPHANED:
            limit = min(limit, 1.0)
        _, stuck = await asyncio.wait(tasks, timeout=limit)
        if stuck:
            log.error(
                "actor_tasks_stuck",
                actor=self.name,
                reason=reason.value,
                tasks=", ".join(sorted(t.get_name() + ":" + repr(t.get_coro()) for t in stuck)),
            )

    def _open_sockets(self) -> None:
        assert self.ctx is not None and self.run_dir is not None and self.info is not None
        control = control_sockets(
            self.run_dir,
            self.name,
            self.info.heartbeat_interval,
            self._link.on_command,
            beat_phase=self.info.beat_phase,
        )
        self._io.open(self.ctx, (*control, *self.sockets()))

    def raise_alert(
        self,
        cause: AlertCause,
        subject: str,
        detail: str = "",
        severity: AlertSeverity = AlertSeverity.WARNING,
        active: bool = True,
    ) -> None:
        """Tell the supervisor, which alerts the operator (deduplicated and rate-limited
        there: call it as often as the condition is seen). ``active=False``: it cleared."""
        self._report(
            AlertRaised(
                actor=self.name,
                pid=os.getpid(),
                cause=cause,
                subject=subject,
                detail=detail,
                severity=severity,
                active=active,
            )
        )

    def _report(self, message: Ready | Heartbeat | Failed | AlertRaised) -> None:
        if REPORT in self._io:
            self.send(REPORT, message)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._crashed(exc)

    def _crashed(self, exc: BaseException | None) -> None:
        if exc is None or self._crash is not None:
            return
        self._crash = exc
        log.error("actor_crashed", actor=self.name, error=repr(exc), exc_info=exc)
        self.request_stop(StopReason.CRASHED)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name} {self.state.value} "
            f"received={self.messages_received} dropped={self.frames_dropped}>"
        )
