"""An actor's link to its supervisor: the two control sockets, the supervisor's commands,
heartbeats, and noticing that the supervisor is gone.

Heartbeats answer the supervisor's beat instead of a timer of the actor's own; a fallback
timer takes over only when the beats stop, and decides when the supervisor counts as lost
(docs/runtime.md, "Ready and heartbeats" and "Supervisor death"). The :class:`Actor
<gridsup.runtime.actor.Actor>` owns one :class:`SupervisorLink` and decides what stopping
means; the link decides when.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Protocol, assert_never

import structlog

from gridsup.messages.control import (
    COMMAND_CODEC,
    REPORT_CODEC,
    Heartbeat,
    Pause,
    Resume,
    StatusValue,
    Stop,
    SupervisorCommand,
)
from gridsup.runtime import endpoints
from gridsup.runtime.liveness import process_alive
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType

log = structlog.get_logger("gridsup.actors")

REPORT = "_report"  # PUSH to the supervisor: Ready, Heartbeat, Failed
COMMAND = "_command"  # SUB from the supervisor: Stop, and its beat
# Heartbeats answer the supervisor's beat; our own timer fires only after this many
# heartbeat intervals without one (the supervisor starved, wedged or dead).
_FALLBACK_INTERVALS = 1.5
# A beat is answered once at least this fraction of an interval has passed since our
# last heartbeat (beats may come more often than our interval: see the runner).
_ANSWER_AFTER = 0.5


class LinkInfo(Protocol):
    """What the link reads of the actor's place in the run (a ``RuntimeInfo``)."""

    @property
    def heartbeat_interval(self) -> float: ...

    @property
    def supervisor_timeout(self) -> float: ...

    @property
    def supervisor_pid(self) -> int | None: ...


class Supervised(Protocol):
    """The actor as its link sees it: the public face of
    :class:`~gridsup.runtime.actor.Actor` (its private parts come as callbacks)."""

    cancel_orders: bool  # set by a Stop command

    @property
    def info(self) -> LinkInfo | None: ...

    @property
    def name(self) -> str: ...

    @property
    def messages_received(self) -> int: ...

    @property
    def frames_dropped(self) -> int: ...

    @property
    def sends_dropped(self) -> int: ...

    def on_control(self, message: Pause | Resume) -> None: ...

    def status(self) -> dict[str, StatusValue]: ...


def control_sockets(
    run_dir: endpoints.RunDir,
    actor: str,
    heartbeat_interval: float,
    on_command: Callable[[SupervisorCommand, list[bytes]], None],
    *,
    beat_phase: int = 0,
) -> tuple[SocketSpec, SocketSpec]:
    """The sockets every actor opens to its supervisor, before its own; ``on_command``
    handles what comes on COMMAND (:meth:`SupervisorLink.on_command`); the actor hears
    the beat of its interval's ``beat_phase``."""
    return (
        SocketSpec(
            REPORT,
            SocketType.PUSH,
            run_dir.endpoint(endpoints.REPORT),
            send=REPORT_CODEC,
            sndhwm=100,
        ),
        SocketSpec(
            COMMAND,
            SocketType.SUB,
            run_dir.endpoint(endpoints.COMMAND),
            recv=Receiver(COMMAND_CODEC, on_command),
            subscribe=(
                endpoints.BROADCAST_TOPIC,
                endpoints.command_topic(actor),
                endpoints.beat_topic(heartbeat_interval, beat_phase),
            ),
        ),
    )


class SupervisorLink:
    """The actor's side of supervision: commands, heartbeats, the supervisor's liveness.

    ``stop_requested`` and ``orphaned`` are what the actor does on a ``Stop`` command and
    when the supervisor is gone (begin a clean stop; exit without side effects);
    ``report`` sends a heartbeat on the report socket, ``crashed`` crashes the actor
    (its ``status`` hook raised), ``stopping`` says it is stopping already.
    """

    def __init__(
        self,
        actor: Supervised,
        *,
        stop_requested: Callable[[], None],
        orphaned: Callable[[], None],
        report: Callable[[Heartbeat], None],
        crashed: Callable[[BaseException], None],
        stopping: Callable[[], bool],
    ) -> None:
        self._actor = actor
        self._stop_requested = stop_requested
        self._orphaned = orphaned
        self._report = report
        self._crashed = crashed
        self._stopping = stopping
        self._heartbeat_seq = 0
        self._supervisor_seen = time.monotonic()
        self._heartbeat_sent = 0.0  # monotonic time of our last Heartbeat
        self._fallback: asyncio.TimerHandle | None = None
        self._parent = os.getppid()

    def reset(self) -> None:
        """The run begins: count the supervisor as just seen."""
        self._supervisor_seen = time.monotonic()

    def start(self) -> None:
        """After Ready: the first heartbeat, and the fallback timer armed."""
        assert self._actor.info is not None
        self._send_heartbeat()
        self._arm_fallback(_FALLBACK_INTERVALS * self._actor.info.heartbeat_interval)

    def close(self) -> None:
        """The actor stops: no more fallback heartbeats."""
        if self._fallback is not None:
            self._fallback.cancel()

    async def watch_parent(self) -> None:
        """Until Ready (no beats are answered yet): stop the actor, orphaned, once its
        parent or its supervisor is gone."""
        info = self._actor.info
        interval = info.heartbeat_interval if info else 1.0
        supervisor = info.supervisor_pid if info else None
        # Under a forkserver the parent is the forkserver, which lives as long as any of
        # its children (each holds its alive pipe): the supervisor's pid must be watched.
        while os.getppid() == self._parent and process_alive(supervisor):
            await asyncio.sleep(interval)
        log.warning("supervisor_lost", actor=self._actor.name, why="parent_exited_while_starting")
        self._orphaned()

    def on_command(self, message: SupervisorCommand, envelope: list[bytes]) -> None:
        """The COMMAND socket's handler: a command, or the supervisor's beat."""
        match message:
            case Pause() | Resume():
                # The actor decides what pausing means (a grid actor: no new orders).
                self._actor.on_control(message)
            case Heartbeat():
                self._on_beat()
            case Stop(cancel_orders=cancel):
                self._actor.cancel_orders = cancel
                log.info("stop_received", actor=self._actor.name, cancel_orders=cancel)
                self._stop_requested()
            case _:
                assert_never(message)

    def _on_beat(self) -> None:
        """The supervisor's beat: it lives, and it is time to heartbeat.

        Answering the beat instead of keeping a timer of our own puts the wake-ups of
        every actor with this interval in the same instant (one short burst per interval
        instead of one wake-up per actor at a random phase, each of which delays
        whatever message happens to arrive then). The fallback timer moves on with each
        beat and never fires while beats come.
        """
        assert self._actor.info is not None
        interval = self._actor.info.heartbeat_interval
        now = time.monotonic()
        self._supervisor_seen = now
        if now - self._heartbeat_sent >= _ANSWER_AFTER * interval:
            self._send_heartbeat()
        if not self._stopping():
            self._arm_fallback(_FALLBACK_INTERVALS * interval)

    def _arm_fallback(self, delay: float) -> None:
        # A timer handle, not a sleeping task: re-arming costs no wake-up.
        if self._fallback is not None:
            self._fallback.cancel()
        self._fallback = asyncio.get_running_loop().call_later(delay, self._on_fallback)

    def _on_fallback(self) -> None:
        """No beat for a while: check that the supervisor still exists, heartbeat on our
        own every interval, and leave once it has been silent for supervisor_timeout."""
        assert self._actor.info is not None
        self._fallback = None
        why = self._supervisor_lost()
        if why is not None:
            log.warning("supervisor_lost", actor=self._actor.name, why=why)
            self._orphaned()
            return
        self._send_heartbeat()
        self._arm_fallback(self._actor.info.heartbeat_interval)

    def _supervisor_lost(self) -> str | None:
        """Why we count as orphaned, or None while the supervisor seems fine."""
        info = self._actor.info
        assert info is not None
        # Our parent is the supervisor (spawn, fork) or its forkserver; either way a
        # change means we were orphaned. The supervisor's own pid is checked too, since
        # a forkserver may outlive it.
        if os.getppid() != self._parent or not process_alive(info.supervisor_pid):
            return "process_gone"
        if time.monotonic() - self._supervisor_seen > info.supervisor_timeout:
            return "heartbeats_stopped"
        return None

    def _send_heartbeat(self) -> None:
        actor = self._actor
        self._heartbeat_sent = time.monotonic()
        self._heartbeat_seq += 1
        status: dict[str, StatusValue] = {
            "heartbeats": self._heartbeat_seq,
            "messages": actor.messages_received,
            "frames_dropped": actor.frames_dropped,
            "sends_dropped": actor.sends_dropped,
        }
        try:
            status.update(actor.status())
        except Exception as exc:  # a hook that raises crashes the actor, from any caller
            self._crashed(exc)
            return
        self._report(
            Heartbeat(actor=actor.name, pid=os.getpid(), seq=self._heartbeat_seq, status=status)
        )
