"""The supervisor process: sockets, sentinels, signals and a ticker around
:class:`~gridsup.supervisor.supervision.Supervision`.

Sockets (in the run directory, see :mod:`gridsup.runtime.endpoints`): PULL for actor
reports, PUB for commands and the supervisor's own heartbeat, ROUTER for the control
endpoint. The children's processes, their exits and signals are in
:class:`~gridsup.supervisor.processes.ProcessEffects`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import zlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, assert_never

import msgspec
import structlog
import zmq
import zmq.asyncio

from gridsup.messages.alerts import AlertRaised
from gridsup.messages.codec import Codec
from gridsup.messages.control import (
    COMMAND_CODEC,
    CONTROL_REPLY_CODEC,
    CONTROL_REQUEST_CODEC,
    REPORT_CODEC,
    ControlReply,
    Failed,
    GridAction,
    Heartbeat,
    Ready,
    StatusQuery,
    StatusReply,
    StopAccepted,
    StopRequest,
)
from gridsup.runtime import endpoints
from gridsup.runtime.sockets import OpenSocket, SocketSpec, SocketType, open_socket
from gridsup.supervisor import discovery
from gridsup.supervisor.effects import AlertHook, log_alert
from gridsup.supervisor.extensions import SupervisorExtension, command_sender
from gridsup.supervisor.grid_actions import GridActions
from gridsup.supervisor.processes import ProcessEffects, make_context
from gridsup.supervisor.spec import ChildSpec
from gridsup.supervisor.supervision import LATE_S, Supervision

log = structlog.get_logger("gridsup.supervisor")
T = TypeVar("T")

# Something that runs beside supervision for the run's life (see Supervisor.services).
Service = Callable[[Supervision], Coroutine[Any, Any, None]]

# Floor of a sleep to the next deadline: a deadline that has just passed by less than the
# clock's resolution must not become a busy loop of zero sleeps.
_MIN_SLEEP = 0.002
# The supervisor's beat tells actors that it is alive and not wedged, and it is what they
# answer with their heartbeats (one beat per heartbeat interval); at least this many
# beats per supervisor_timeout, so that a beat or two lost is no orphaning.
_BEATS_PER_TIMEOUT = 4
_REPORT_BATCH = 256  # reports drained per wake-up before yielding to the other tasks


# At most this many actors answer one beat: a thousand grids of one interval heartbeat
# in twenty groups spread over the interval, not in one burst (a thousand wake-ups are
# ~0.3 s of CPU, and a tick that met them waited ~150 ms more on two cpus; fifty cost
# ~15 ms of CPU). Smaller groups cost more idle CPU: fewer wake-ups share a batch.
BEAT_GROUP = 50


@dataclass(frozen=True)
class BeatPlan:
    """The supervisor's beats: per heartbeat interval of the children, ``phases`` beat
    streams (one per :data:`BEAT_GROUP` children of that interval), each every
    ``periods[topic]`` seconds and the phases evenly spaced over it (``offsets``); a
    child answers the beat of its :meth:`phase`, so that the fleet's heartbeats come in
    small groups instead of all in the same instant."""

    periods: dict[bytes, float]
    offsets: dict[bytes, float]
    phases: dict[float, int]

    @classmethod
    def of(cls, specs: Sequence[ChildSpec]) -> BeatPlan:
        period_of: dict[float, float] = {}
        members: dict[float, int] = {}
        for spec in specs:
            policy = spec.effective_policy
            interval = float(policy.heartbeat_interval)
            period = min(interval, policy.supervisor_timeout / _BEATS_PER_TIMEOUT)
            period_of[interval] = min(period, period_of.get(interval, period))
            members[interval] = members.get(interval, 0) + 1
        phases = {i: max(1, -(-n // BEAT_GROUP)) for i, n in members.items()}
        periods: dict[bytes, float] = {}
        offsets: dict[bytes, float] = {}
        for interval, period in period_of.items():
            for phase in range(phases[interval]):
                topic = endpoints.beat_topic(interval, phase)
                periods[topic] = period
                offsets[topic] = period * phase / phases[interval]
        return cls(periods, offsets, phases)

    def phase(self, spec: ChildSpec) -> int:
        """The beat phase ``spec``'s child answers: a stable hash of its name (a child
        added later, of an interval the plan does not know, answers phase 0)."""
        phases = self.phases.get(float(spec.effective_policy.heartbeat_interval), 1)
        return zlib.crc32(spec.name.encode()) % phases


class Supervisor:
    """Run ``specs`` until SIGINT/SIGTERM or a StopRequest; see :meth:`run`."""

    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        base: Path | None = None,
        start_method: str = "forkserver",
        preload: Sequence[str] = (),
        alert: AlertHook = log_alert,
        log_level: str = "INFO",
        log_json: bool = False,
        extensions: Sequence[SupervisorExtension] = (),
        services: Sequence[Service] = (),
        planned: Sequence[ChildSpec] = (),
    ) -> None:
        """``planned``: children a service may add later (a cluster member's grids), whose
        heartbeat intervals the beats must cover from the start."""
        self.specs = specs
        # Metrics, alerts, the web dashboard: run beside the children, started once
        # supervision exists, stopped on the way out.
        self.extensions = tuple(extensions)
        # Who hears an actor's AlertRaised (the alerts extension subscribes at start).
        self.alert_listeners: list[Callable[[AlertRaised], None]] = []
        self.started_at: float | None = None
        self.grid_actions: GridActions | None = None
        self.run_dir: endpoints.RunDir | None = None
        self.ctx: zmq.asyncio.Context | None = None
        # Tasks that run beside supervision for the run's life, each handed the
        # Supervision (a cluster member's placement loop); cancelled at the end.
        self.services = tuple(services)
        self.base = base if base is not None else endpoints.default_base()
        self.mp = make_context(start_method, preload)
        self.start_method = start_method
        self.alert = alert
        self.log_level, self.log_json = log_level, log_json
        self.supervision: Supervision | None = None
        self.frames_dropped = 0
        self.beat_plan = BeatPlan.of([*specs, *planned])
        self.beats = self.beat_plan.periods
        # Set by Supervision.changed (an exit, a Ready, a stop): the ticker sleeps until
        # the next deadline or this.
        self._wake = asyncio.Event()

    async def run(self) -> int:
        """Start every child in group order, supervise until stopped, clean up.

        Returns 0 after a clean stop.

        Raises:
            SupervisorRunning: another supervisor owns the base directory.
            EndpointError: the run directory is not private or paths are too long.
            zmq.ZMQError: a socket cannot be bound.
        """
        run_dir = endpoints.RunDir.create(self.base)
        ctx = zmq.asyncio.Context()
        socks: list[zmq.asyncio.Socket] = []
        reports: OpenSocket | None = None
        loop = asyncio.get_running_loop()
        effects: ProcessEffects | None = None
        started = self.started_at = time.monotonic()
        self.run_dir, self.ctx = run_dir, ctx
        running: list[SupervisorExtension] = []
        try:
            # Reports are waited on through OpenSocket's reader: a plain socket.
            report_spec = SocketSpec(
                "report", SocketType.PULL, run_dir.endpoint(endpoints.REPORT), bind=True
            )
            reports = OpenSocket(report_spec, open_socket(ctx, report_spec))
            pub, router = (ctx.socket(t) for t in (zmq.PUB, zmq.ROUTER))
            socks += [pub, router]
            for sock in socks:
                sock.setsockopt(zmq.LINGER, 0)
            pub.bind(run_dir.endpoint(endpoints.COMMAND))
            router.bind(run_dir.endpoint(endpoints.CONTROL))
            pub_sync: zmq.Socket[bytes] = zmq.Socket.shadow(pub.underlying)
            self._wake = asyncio.Event()  # bound to this run's loop
            holder: list[Supervision] = []
            effects = ProcessEffects(
                self.mp,
                run_dir,
                pub_sync,
                loop,
                holder,
                log_level=self.log_level,
                log_json=self.log_json,
                beat_phase=self.beat_plan.phase,
            )
            sup = Supervision(self.specs, effects, self.alert, changed=self._wake.set)
            holder.append(sup)
            self.supervision = sup
            self.grid_actions = GridActions(sup, command_sender(pub_sync))
            discovery.claim(
                self.base,
                discovery.SupervisorPointer(
                    os.getpid(), str(run_dir.path), run_dir.endpoint(endpoints.CONTROL), time.time()
                ),
            )
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, sup.stop)
            log.info(
                "supervisor_started",
                pid=os.getpid(),
                run_dir=str(run_dir.path),
                method=self.start_method,
            )
            # Before any child: an extension that cannot start (a metrics port in use)
            # fails the start with nothing spawned.
            for extension in self.extensions:
                await extension.start(self)
                running.append(extension)
            sup.start()
            tasks = [
                loop.create_task(self._reports(reports, sup)),
                loop.create_task(self._control(router, sup, started)),
                *(loop.create_task(service(sup)) for service in self.services),
            ]
            try:
                await self._tick(pub_sync, sup)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            return 0
        finally:
            for extension in reversed(running):
                await extension.stop()
            if effects is not None:
                effects.kill_all()
            if reports is not None:
                reports.close(0)
            for sock in socks:
                sock.close(linger=0)
            ctx.term()
            discovery.release(self.base, os.getpid())
            run_dir.remove()
            log.info("supervisor_exited", pid=os.getpid())

    async def _tick(self, pub: zmq.Socket[bytes], sup: Supervision) -> None:
        beat = COMMAND_CODEC.encode(Heartbeat(actor="supervisor", pid=os.getpid()))
        # beat topic -> when it is next due: the phases of an interval spread over it
        start = time.monotonic()
        due = {topic: start + self.beat_plan.offsets.get(topic, 0.0) for topic in self.beats}
        sent: set[bytes] = set()  # topics beaten once (a first beat is never late)
        while not sup.done:
            self._wake.clear()
            late = self._beat(pub, beat, due, sent)
            if late > LATE_S:
                # Actors heartbeat when they hear a beat: one that went out this late (the
                # loop busy reaping a thousand exits, say) left them nothing to answer.
                sup.excuse(late)
            sup.tick()
            if sup.done:
                break
            if sup.spawning:
                # A large group is being spawned: come back at once, after the loop has
                # run the report and control tasks.
                await asyncio.sleep(0)
                continue
            # Sleep until the next deadline (a backoff over, a ready or heartbeat
            # timeout, a stop escalation) or the next beat, whichever is first; events
            # that bring a deadline forward set _wake. No polling at idle.
            deadline = sup.next_deadline()
            until = min([*due.values(), *(() if deadline is None else (deadline,))], default=None)
            delay = None if until is None else max(until - time.monotonic(), _MIN_SLEEP)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _beat(
        self, pub: zmq.Socket[bytes], beat: bytes, due: dict[bytes, float], sent: set[bytes]
    ) -> float:
        """Publish each beat that is due: the supervisor's pulse (actors that stop
        hearing it exit, orphaned), and the moment for the actors of that interval and
        phase to send their heartbeats. How late the latest of them went out (s)."""
        now = time.monotonic()
        late = 0.0
        for topic, at in due.items():
            if now >= at:
                pub.send_multipart([topic, beat], zmq.NOBLOCK)
                # From when it was due, not from now: the phases keep their spacing.
                period = self.beats[topic]
                due[topic] = max(at + period, now + period / 2)
                if topic in sent:
                    late = max(late, now - at)
                sent.add(topic)
        return late

    async def _reports(self, sock: OpenSocket, sup: Supervision) -> None:
        # One asyncio wake-up per batch of reports, read without a Future per frame (a
        # hundred actors heartbeat in the same instant, at every beat).
        recv = sock.sync_sock.recv
        while True:
            await sock.wait_readable()
            for _ in range(_REPORT_BATCH):
                try:
                    frame = recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._report(frame, sup)
            else:
                await asyncio.sleep(0)

    def _decode(self, codec: Codec[T], frame: bytes, socket: str) -> T | None:
        """``frame`` decoded, or None (counted and logged) when it is none of ``codec``'s
        messages: a bad frame is dropped, never the loop that read it."""
        try:
            return codec.decode(frame)
        except msgspec.DecodeError as exc:
            self.frames_dropped += 1
            log.warning("frame_dropped", socket=socket, error=str(exc), dropped=self.frames_dropped)
            return None

    def _report(self, frame: bytes, sup: Supervision) -> None:
        report = self._decode(REPORT_CODEC, frame, "report")
        if report is None:
            return
        match report:
            case Ready(actor=name, pid=pid):
                sup.on_ready(name, pid)
                if self.grid_actions is not None:
                    self.grid_actions.on_ready(name)
            case Heartbeat(actor=name, pid=pid, status=status):
                sup.on_heartbeat(name, pid, status)  # only moves a deadline later
            case Failed(actor=name, pid=pid, reason=reason):
                sup.on_failed(name, pid, reason)
            case AlertRaised():
                log.warning(
                    "alert_reported",
                    actor=report.actor,
                    cause=report.cause.value,
                    subject=report.subject,
                    active=report.active,
                )
                for listener in self.alert_listeners:
                    listener(report)
            case _:
                assert_never(report)

    async def _control(self, router: zmq.asyncio.Socket, sup: Supervision, started: float) -> None:
        # Grid actions wait for a database write: each is answered by its own task, so
        # that a status query is never queued behind one.
        acting: set[asyncio.Task[None]] = set()
        try:
            await self._serve_control(router, sup, started, acting)
        finally:
            for task in acting:
                task.cancel()
            await asyncio.gather(*acting, return_exceptions=True)

    async def _serve_control(
        self,
        router: zmq.asyncio.Socket,
        sup: Supervision,
        started: float,
        acting: set[asyncio.Task[None]],
    ) -> None:
        while True:
            frames = await router.recv_multipart()
            envelope, payload = frames[:-1], frames[-1]
            request = self._decode(CONTROL_REQUEST_CODEC, payload, "control")
            if request is None:
                continue
            match request:
                case StatusQuery():
                    reply: ControlReply = StatusReply(
                        supervisor_pid=os.getpid(),
                        uptime=round(time.monotonic() - started, 3),
                        state=sup.state.value,
                        actors=sup.status(),
                    )
                case StopRequest(cancel_orders=cancel):
                    log.info("stop_requested", cancel_orders=cancel)
                    reply = StopAccepted(supervisor_pid=os.getpid())
                    sup.stop(cancel)
                case GridAction():
                    task = asyncio.get_running_loop().create_task(
                        self._act(router, envelope, request)
                    )
                    acting.add(task)
                    task.add_done_callback(acting.discard)
                    continue
                case _:
                    assert_never(request)
            await router.send_multipart([*envelope, CONTROL_REPLY_CODEC.encode(reply)])

    async def _act(
        self, router: zmq.asyncio.Socket, envelope: list[bytes], request: GridAction
    ) -> None:
        assert self.grid_actions is not None
        reply = await self.grid_actions.act(request)
        await router.send_multipart([*envelope, CONTROL_REPLY_CODEC.encode(reply)])
