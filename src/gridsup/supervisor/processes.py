"""The supervisor's real :class:`~gridsup.supervisor.effects.Effects`: child processes
started by ``multiprocess`` (a forkserver by default), signals, the clock, and Stop
commands on the supervisor's PUB socket.

A child's exit is seen through its process sentinel, registered with the event loop, so
it is noticed as soon as it happens (not at the next poll).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import multiprocess
import structlog
import zmq

from gridsup.messages.control import COMMAND_CODEC, Stop
from gridsup.runtime import endpoints
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.entry import (
    LOGGING_ENV,
    MAIN_PATH_ENV,
    Launch,
    child_main,
    logging_env,
    pack,
)
from gridsup.supervisor.effects import ProcessHandle, send_signal
from gridsup.supervisor.spec import ChildSpec

if TYPE_CHECKING:
    from gridsup.supervisor.supervision import Supervision

log = structlog.get_logger("gridsup.supervisor")

START_METHODS = ("forkserver", "spawn", "fork")
# What every forkserver child needs anyway; imported once in the server, shared by COW.
# First the collector goes off for the imports (see the module), then the runtime.
RUNTIME_PRELOAD = ("gridsup.runtime.zygote_gc", "gridsup.runtime.entry")
# Imported last by a forkserver: freezes the preload out of the collector's sight, and
# keeps the children from re-running this process's main script (see the module).
ZYGOTE = "gridsup.runtime.zygote"


def make_context(method: str, preload: Sequence[str] = ()) -> Any:
    """A ``multiprocess`` context for ``method``; a forkserver preloads the runtime.

    Raises:
        ValueError: unknown start method.
    """
    if method not in START_METHODS:
        raise ValueError(f"start method {method!r}: want one of {', '.join(START_METHODS)}")
    ctx = multiprocess.get_context(method)
    if method == "forkserver":
        main_path = _main_script()
        if main_path is not None:
            # Read by the zygote in the server (started later, with this environment).
            os.environ[MAIN_PATH_ENV] = main_path
        ctx.set_forkserver_preload([*RUNTIME_PRELOAD, *preload, ZYGOTE])
    return ctx


def _main_script() -> str | None:
    """The path ``multiprocess`` would make each child re-run as its ``__mp_main__``
    (a script run by path; None when main was run as a module, which it skips)."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main.__spec__, "name", None) is not None:
        return None
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return None
    if not os.path.isabs(path):
        path = os.path.join(multiprocess.process.ORIGINAL_DIR or os.getcwd(), path)
    return os.path.normpath(path)


class ProcessEffects:
    """The real :class:`~gridsup.supervisor.effects.Effects`: ``multiprocess`` processes,
    signals, ``time.monotonic`` and Stop commands on the PUB socket."""

    def __init__(
        self,
        mp_context: Any,
        run_dir: endpoints.RunDir,
        command: zmq.Socket[bytes],
        loop: asyncio.AbstractEventLoop,
        supervision: list[Supervision],
        *,
        log_level: str = "INFO",
        log_json: bool = False,
        beat_phase: Callable[[ChildSpec], int] = lambda spec: 0,
    ) -> None:
        self.mp = mp_context
        self.beat_phase = beat_phase  # which of the supervisor's beats a child answers
        self.run_dir = run_dir
        self.command = command
        self.loop = loop
        self._supervision = supervision  # filled in once Supervision exists
        self.log_level, self.log_json = log_level, log_json
        # Read by a forkserver's zygote, which sets the actors' logging up once for all
        # (the server starts with the first actor, so with this environment).
        os.environ[LOGGING_ENV] = logging_env(log_level, log_json)
        self.live: dict[int, Any] = {}  # pid -> process, for the final safety sweep

    def now(self) -> float:
        return time.monotonic()

    def spawn(self, spec: ChildSpec) -> ProcessHandle:
        policy = spec.effective_policy
        info = RuntimeInfo(
            name=spec.name,
            kind=spec.kind,
            run_dir=str(self.run_dir.path),
            heartbeat_interval=policy.heartbeat_interval,
            beat_phase=self.beat_phase(spec),
            stop_timeout=policy.stop_timeout / 2,
            supervisor_timeout=policy.supervisor_timeout,
            supervisor_pid=os.getpid(),
        )
        launch = Launch(
            info, spec.target, spec.args, dict(spec.kwargs), self.log_level, self.log_json
        )
        proc = self.mp.Process(target=child_main, args=(pack(launch),), name=spec.name)
        proc.start()
        # multiprocess polls every child it started, one selector each, at every start:
        # quadratic in the fleet (7 of a thousand grids' 21 s of spawning). The sentinel
        # (below) and this map are how the supervisor follows its children anyway.
        multiprocess.process._children.discard(proc)
        self.live[proc.pid] = proc
        self.loop.add_reader(proc.sentinel, self._reap, spec.name, proc)
        return ProcessHandle(proc.pid, proc)

    def _reap(self, name: str, proc: Any) -> None:
        self.loop.remove_reader(proc.sentinel)
        # The sentinel fires at exit; the exit status may need a moment to be collectable.
        proc.join(2.0)
        code = proc.exitcode
        pid = proc.pid
        self.live.pop(pid, None)
        if code is not None:
            proc.close()
        self._supervision[0].on_exit(name, pid, code)

    def signal(self, handle: ProcessHandle, signum: int) -> None:
        send_signal(handle.pid, signum)

    def send_stop(self, name: str, cancel_orders: bool) -> None:
        frame = COMMAND_CODEC.encode(Stop(cancel_orders=cancel_orders))
        try:
            self.command.send_multipart([endpoints.command_topic(name), frame], zmq.NOBLOCK)
        except zmq.Again:
            log.warning("stop_not_sent", actor=name)  # SIGTERM escalation follows

    def kill_all(self) -> None:
        """Last resort on the way out: no child may outlive the supervisor."""
        for pid, proc in list(self.live.items()):
            if proc.exitcode is None:
                log.warning("actor_killed", actor=proc.name, pid=pid, why="supervisor_exiting")
                send_signal(pid, signal.SIGKILL)
