"""Small test actors, imported by the children that the runtime tests start.

Each one leaves evidence in files under a directory it is given (``evidence``): one
line per start/stop, so tests can check order and counts after the fact.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq.asyncio

from gridsup.messages.control import StatusValue
from gridsup.messages.market import MARKET_CODEC, MarketMessage, Tick
from gridsup.messages.store import STORE_REPLY_CODEC, STORE_REQUEST_CODEC, LoadState
from gridsup.runtime.actor import Actor, RuntimeInfo, StopReason
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType

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
                recv=Receiver(MARKET_CODEC, self.on_tick),
            )
        ]

    def on_tick(self, message: MarketMessage, envelope: list[bytes]) -> None:
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
        recv = Receiver(MARKET_CODEC, lambda message, envelope: None)
        return [SocketSpec("in", SocketType.PULL, self.endpoint, bind=True, recv=recv)]


class Locked(Steady):
    """Refuses to start the way a strategy actor whose grid is locked elsewhere does:
    stops itself in on_start and exits with 75 (strategy_actor.EXIT_LOCKED)."""

    async def on_start(self) -> None:
        await super().on_start()
        self.request_stop(StopReason.SELF)

    async def run(self, info: RuntimeInfo, ctx: zmq.asyncio.Context) -> int:
        code = await super().run(info, ctx)
        return 75 if code == 0 else code


class OrderedSink(Steady):
    """Binds a PULL socket of ticks (``ticks-<name>``). Its first tick stalls the loop a
    while (so that the rest piles up: several batches wait at once); a tick with
    timestamp -1 ends the run: it writes ``got <timestamps in order>`` and stops."""

    def __init__(self, evidence: str) -> None:
        super().__init__(evidence)
        self.seen: list[int] = []

    def sockets(self) -> list[SocketSpec]:
        assert self.run_dir is not None
        endpoint = self.run_dir.endpoint(f"ticks-{self.name}")
        recv = Receiver(MARKET_CODEC, self.on_tick)
        return [SocketSpec("ticks", SocketType.PULL, endpoint, bind=True, recv=recv)]

    def on_tick(self, message: MarketMessage, envelope: list[bytes]) -> None:
        if message.timestamp == -1:
            _append(self.evidence, f"dropped {self.frames_dropped}")
            _append(self.evidence, "got " + ",".join(map(str, self.seen)))
            self.request_stop()
            return
        if not self.seen:
            time.sleep(0.5)  # not a timing assumption: only makes the burst likelier
        self.seen.append(message.timestamp)


class PipelinedPinger(Steady):
    """A DEALER (to ``endpoint``) that sends from inside its handler: each reply is
    answered with up to two requests (at most ``WINDOW`` in flight, well under the
    high-water marks) until ``total`` are sent, so sends keep racing the replies that
    arrive meanwhile. Writes ``replies <n> dropped <sends dropped>`` and stops when all
    are back."""

    WINDOW = 200

    def __init__(self, evidence: str, endpoint: str, total: int) -> None:
        super().__init__(evidence)
        self.endpoint, self.total = endpoint, total
        self.sent = self.replies = 0

    def sockets(self) -> list[SocketSpec]:
        return [
            SocketSpec(
                "rpc",
                SocketType.DEALER,
                self.endpoint,
                recv=Receiver(MARKET_CODEC, self.on_reply),
                send=MARKET_CODEC,
            )
        ]

    async def on_start(self) -> None:
        await super().on_start()
        # The first request goes after Ready (from a task), the rest from on_reply.
        self.spawn(self._first())

    async def _first(self) -> None:
        self._request()

    def _request(self) -> None:
        if self.sent < self.total and self.sent - self.replies < self.WINDOW:
            self.sent += 1
            self.send("rpc", Tick(symbol="X/Y", timestamp=self.sent, last=Decimal(1)))

    def on_reply(self, message: MarketMessage, envelope: list[bytes]) -> None:
        self.replies += 1
        self._request()
        self._request()
        if self.replies == self.total:
            _append(self.evidence, f"replies {self.replies} dropped {self.sends_dropped}")
            self.request_stop()


class RaisingSink(Steady):
    """Binds ``ticks-<name>``; its handler raises (``mode`` raise) or returns a
    coroutine (``mode`` async) -- either must crash the actor. (mypy would refuse the
    second: the handler is passed untyped, as a careless actor might.)"""

    def __init__(self, evidence: str, mode: str) -> None:
        super().__init__(evidence)
        self.mode = mode

    def sockets(self) -> list[SocketSpec]:
        assert self.run_dir is not None
        endpoint = self.run_dir.endpoint(f"ticks-{self.name}")
        handler: Any = self.on_tick
        recv = Receiver(MARKET_CODEC, handler)
        return [SocketSpec("ticks", SocketType.PULL, endpoint, bind=True, recv=recv)]

    def on_tick(self, message: MarketMessage, envelope: list[bytes]) -> Any:
        _append(self.evidence, f"message {message.timestamp}")
        if self.mode == "raise":
            raise RuntimeError("the handler raised on purpose")
        return asyncio.sleep(0)


class EarlyRequester(Steady):
    """Asks ``endpoint`` (a ROUTER) for its state during ``on_start``, with a
    :class:`Requester` -- one ``request`` and one ``fire`` -- so replies must be read
    before Ready. Writes what came back, then becomes Ready."""

    def __init__(self, evidence: str, endpoint: str) -> None:
        super().__init__(evidence)
        self.endpoint = endpoint

    def sockets(self) -> list[SocketSpec]:
        return [SocketSpec("store", SocketType.DEALER, self.endpoint, send=STORE_REQUEST_CODEC)]

    async def on_start(self) -> None:
        from gridsup.runtime.requests import Requester

        await super().on_start()
        requester = Requester(self, "store", STORE_REPLY_CODEC, prefix="t", timeout=60)
        self.spawn(requester.run())
        fired: list[str] = []
        requester.fire(
            LoadState(request_id=requester.next_id(), grid_id="fired"),
            lambda reply: fired.append(reply.request_id),
        )
        reply = await requester.request(
            LoadState(request_id=requester.next_id(), grid_id="awaited")
        )
        _append(self.evidence, f"reply {reply.request_id} callback {','.join(fired)}")
