"""What the unit tests of a strategy actor's parts share: a real grid strategy on the
actor's outbox, and a hand-written fake at the ``Requester`` seam (``OrderLink``,
``GridCommitter``) that records what is sent and lets the test answer each request, as
the execution or persistence actor would. The real Requester, over real ZeroMQ, is
proven by the strategy actor's tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from gridsup.actors.grid.context import OutboxContext
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from helpers import BTC_USDT, aeventually

Reply = TypeVar("Reply")

# Levels 40k, 45k, ..., 70k; at 52000 the grid buys at 50k, 45k and 40k.
GRID_CONFIG: dict[str, Any] = {
    "name": "btc",
    "symbol": "BTC/USDT",
    "lower_price": "40000",
    "upper_price": "70000",
    "num_grids": 7,
    "total_investment": "10000",
    "initial_position": "none",
}


def grid_strategy(**overrides: object) -> tuple[GridTradingStrategy, OutboxContext]:
    """A BTC/USDT grid (:data:`GRID_CONFIG` with ``overrides``) on the actor's outbox,
    waiting for its first price."""
    strategy = GridTradingStrategy(GridConfig.model_validate({**GRID_CONFIG, **overrides}), "btc")
    outbox = OutboxContext(BTC_USDT)
    strategy.initialize(outbox)
    return strategy, outbox


class FakeRequester(Generic[Reply]):
    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._ids = itertools.count(1)
        self.sent: list[Any] = []  # every message, in order (re-sends included)
        self._answer: dict[str, Callable[[Reply], None]] = {}

    def next_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def fire(self, message: Any, callback: Callable[[Reply], None] | None = None) -> None:
        self.sent.append(message)
        self._answer[message.request_id] = callback or (lambda reply: None)

    async def request(self, message: Any) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.fire(message, future.set_result)
        return await future

    def answer(self, reply: Reply) -> None:
        """Deliver ``reply`` to the request it names (once, like the real one)."""
        self._answer.pop(reply.request_id)(reply)  # type: ignore[attr-defined]

    def unanswered(self) -> list[Any]:
        return [m for m in self.sent if m.request_id in self._answer]


async def until(check: Callable[[], bool], message: str = "", timeout: float = 5.0) -> None:
    """Poll ``check`` while the loop runs the parts' timers and callbacks meanwhile."""

    async def probe() -> bool:
        return check()

    await aeventually(probe, timeout=timeout, message=message)
