"""Small test actors, imported by the children that the runtime tests start.

Each one leaves evidence in files under a directory it is given (``evidence``): one
line per start/stop, so tests can check order and counts after the fact.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import zmq.asyncio

from gridsup.actors.base import Actor, RuntimeInfo, StopReason
from gridsup.actors.sockets import SocketSpec, SocketType
from gridsup.messages.control import StatusValue
from gridsup.messages.market import MARKET_CODEC, Tick

HEAVY = ("ccxt", "pandas", "sqlalchemy")


def _append(evidence: str, line: str) -> int:
    """Append ``line`` to the evidence log; return how many lines with it exist now."""
    path = Path(evidence) / "events.log"
    with path.open("a") as f:
        f.write(line + "\n")
    return path.read_text().splitlines().count(line)


class Steady(Actor):
    """Does nothing but heartbeat; records start and stop."""

    def __init__(self, evidence: str) -> None:
        super().__init__()
        self.evidence = evidence
        self.starts = 0

    async def on_start(self) -> None:
        self.starts = _append(self.evidence, f"start {self.name}")

    async def on_stop(self, reason: StopReason) -> None:
        _append(self.evidence, f"stop {self.name} {reason.value}")

    def status(self) -> dict[str, StatusValue]:
        heavy = ",".join(m for m in HEAVY if m in sys.modules)
        return {
            "starts": self.starts,
            "heavy": heavy,
            "strategy_loaded": "gridsup.strategy" in sys.modules,
        }


class Stubborn(Steady):
    """Runs a background task that ignores its cancellation (as a retry loop that catches
    CancelledError would): the actor must still exit when orphaned."""

    async def on_start(self) -> None:
        await super().on_start()
        self.spawn(self._ignore_cancellation())

    async def _ignore_cancellation(self) -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                _append(self.evidence, "cancellation ignored")


class Crasher(Steady):
    """Misbehaves in its first ``times`` incarnations (``mode``: exit, raise, hang),
    then behaves; ``times=-1`` misbehaves forever (a crash loop)."""

    def __init__(self, evidence: str, mode: str, times: int = 1) -> None:
        super().__init__(evidence)
        self.mode, self.times = mode, times

    async def on_start(self) -> None:
        await super().on_start()
        if self.times < 0 or self.starts <= self.times:
            self.spawn(self._misbehave())

    async def _misbehave(self) -> None:
        await asyncio.sleep(0.3)  # after Ready, so this is a crash of a running actor
        if self.mode == "exit":
            os._exit(7)
        elif self.mode == "raise":
            raise RuntimeError("test actor raised on purpose")
        elif self.mode == "hang":
            time.sleep(3600)  # blocks the loop: no heartbeats, no signal handling
        raise ValueError(f"unknown mode {self.mode}")


class SlowStarter(Steady):
    """Never becomes Ready in its first incarnation (on_start hangs the loop)."""

    async def on_start(self) -> None:
        await super().on_start()
        if self.starts == 1:
            time.sleep(3600)


class TickSink(Steady):
    """Binds a PULL socket of ticks (``ticks-<name>``); counts what decodes."""

    def __init__(self, evidence: str) -> None:
        super().__init__(evidence)
        self.ticks = 0

    def sockets(self) -> list[SocketSpec]:
        assert self.run_dir is not None
        return [
            SocketSpec(
                "ticks",
                SocketType.PULL,
                self.run_dir.endpoint(f"ticks-{self.name}"),
                bind=True,
                recv=MARKET_CODEC,
            )
        ]

    def on_message(self, socket: str, message: Any, envelope: list[bytes]) -> None:
        assert isinstance(message, Tick)
        self.ticks += 1

    def status(self) -> dict[str, StatusValue]:
        return {**super().status(), "ticks": self.ticks}


class LightStrategyHost(Steady):
    """Imports the strategy package the way a strategy actor would."""

    async def on_start(self) -> None:
        import gridsup.strategy  # noqa: F401  (the point: what does it drag in?)

        await super().on_start()


class Binder(Steady):
    """Binds a PULL socket at ``endpoint`` (a test may hold it first)."""

    def __init__(self, evidence: str, endpoint: str) -> None:
        super().__init__(evidence)
        self.endpoint = endpoint

    def sockets(self) -> list[SocketSpec]:
        return [SocketSpec("in", SocketType.PULL, self.endpoint, bind=True, recv=MARKET_CODEC)]


class Locked(Steady):
    """Refuses to start the way a strategy actor whose grid is locked elsewhere does:
    stops itself in on_start and exits with 75 (strategy_actor.EXIT_LOCKED)."""

    async def on_start(self) -> None:
        await super().on_start()
        self.request_stop(StopReason.SELF)

    async def run(self, info: RuntimeInfo, ctx: zmq.asyncio.Context) -> int:
        code = await super().run(info, ctx)
        return 75 if code == 0 else code
