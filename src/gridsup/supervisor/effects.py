"""The seam between supervision logic and the operating system.

:class:`~gridsup.supervisor.supervision.Supervision` never forks, signals, sleeps or
reads a clock itself: it asks an :class:`Effects` (supervisord's ``options`` object). Tests
pass a hand-written fake with a fake clock;
:class:`~gridsup.supervisor.processes.ProcessEffects` is the real thing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from gridsup.supervisor.spec import ChildSpec

log = structlog.get_logger("gridsup.supervisor")


@dataclass(frozen=True, slots=True)
class ProcessHandle:
    """A spawned child: its pid, and the OS object behind it (opaque to the logic)."""

    pid: int
    process: Any = None


@dataclass(frozen=True, slots=True)
class ActorFailedAlert:
    """Raised when a child is given up (intensity exceeded); goes to the alert hook."""

    name: str
    kind: str
    restarts: int
    exitcode: int | None
    reason: str


AlertHook = Callable[[ActorFailedAlert], None]


class Effects(Protocol):
    """Everything supervision does to the world."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def spawn(self, spec: ChildSpec) -> ProcessHandle:
        """Start a process for ``spec``. Raises OSError when it cannot."""
        ...

    def signal(self, handle: ProcessHandle, signum: int) -> None:
        """Send ``signum`` to the child (no error if it is already gone)."""
        ...

    def send_stop(self, name: str, cancel_orders: bool) -> None:
        """Publish a ``Stop`` command to the actor called ``name``."""
        ...


def send_signal(pid: int, signum: int) -> None:
    """``os.kill`` that tolerates a child that has just exited."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError as exc:  # pid reused by someone else's process: never ours
        log.error("signal_refused", pid=pid, signal=signal.Signals(signum).name, error=str(exc))


def log_alert(alert: ActorFailedAlert) -> None:
    """The default alert hook: one structured error line (``actor_failed`` is logged by
    supervision itself; this is where a pager or webhook would plug in)."""
    log.critical("alert_raised", alert="actor_failed", actor=alert.name, kind=alert.kind)
