"""A hand-written fake of the supervisor's OS-effects seam (``gridsup.supervisor.effects.
Effects``), for tests of Supervision's logic without processes."""

from __future__ import annotations

from dataclasses import dataclass, field

from gridsup.supervisor.effects import ProcessHandle
from gridsup.supervisor.spec import ChildSpec


@dataclass
class FakeEffects:
    """Records every effect; the clock moves only when a test says so."""

    clock: float = 1000.0
    next_pid: int = 100
    spawned: list[tuple[str, int]] = field(default_factory=list)
    signals: list[tuple[int, int]] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    fail_spawn: set[str] = field(default_factory=set)

    def now(self) -> float:
        return self.clock

    def spawn(self, spec: ChildSpec) -> ProcessHandle:
        if spec.name in self.fail_spawn:
            raise OSError("fork failed")
        self.next_pid += 1
        self.spawned.append((spec.name, self.next_pid))
        return ProcessHandle(self.next_pid)

    def signal(self, handle: ProcessHandle, signum: int) -> None:
        self.signals.append((handle.pid, signum))

    def send_stop(self, name: str, cancel_orders: bool) -> None:
        self.stops.append(name)
