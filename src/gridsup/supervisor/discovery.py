"""How ``gridsup status|stop`` find the running supervisor: a pointer file in the base
run directory (``supervisor.json``: pid, run dir, control endpoint), written atomically
once the control socket is bound and removed on a clean exit. A pointer whose pid is
dead (a SIGKILLed supervisor) counts as no supervisor."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from gridsup.runtime.liveness import process_alive

log = structlog.get_logger("gridsup.supervisor")

POINTER_FILE = "supervisor.json"


class SupervisorRunning(RuntimeError):
    """Another supervisor already runs with this base directory."""


@dataclass(frozen=True, slots=True)
class SupervisorPointer:
    pid: int
    run_dir: str
    control: str
    started_at: float  # wall clock, seconds since the epoch


def read_pointer(base: Path) -> SupervisorPointer | None:
    """The live supervisor's pointer, or None (absent, unreadable, or its pid is dead)."""
    path = base / POINTER_FILE
    try:
        raw = json.loads(path.read_text())
        pointer = SupervisorPointer(
            pid=int(raw["pid"]),
            run_dir=str(raw["run_dir"]),
            control=str(raw["control"]),
            started_at=float(raw["started_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("supervisor_pointer_unreadable", path=str(path), error=repr(exc))
        return None
    return pointer if process_alive(pointer.pid) else None


def claim(base: Path, pointer: SupervisorPointer) -> None:
    """Write ``pointer`` unless a live supervisor already owns ``base``.

    Raises:
        SupervisorRunning: a live supervisor's pointer is there.
    """
    current = read_pointer(base)
    if current is not None and current.pid != pointer.pid:
        raise SupervisorRunning(f"a supervisor (pid {current.pid}) already runs in {base}")
    tmp = base / f".{POINTER_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(pointer), f)
    os.replace(tmp, base / POINTER_FILE)


def release(base: Path, pid: int) -> None:
    """Remove the pointer if it is ``pid``'s (never another supervisor's)."""
    path = base / POINTER_FILE
    try:
        if int(json.loads(path.read_text())["pid"]) == pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent or not ours: nothing to release
