"""Small test helpers shared by every test package."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from gridsup.messages.market import MarketInfo

if TYPE_CHECKING:
    from gridsup.actors.run_config import RunConfig
    from gridsup.exchange.paper.engine import PaperExchange
    from gridsup.store.database import Database

T = TypeVar("T")

# Binance's spot BTC/USDT filters (tick 0.01, lot 0.00001, notional 5 USDT): the market
# most tests trade on; the paper exchange's built-in table lists the same figures.
BTC_USDT = MarketInfo(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    price_step=Decimal("0.01"),
    amount_step=Decimal("0.00001"),
    min_amount=Decimal("0.00001"),
    min_notional=Decimal("5"),
)
# The same market with no filter at all (no steps, no minimums): for logic that the
# exchange's rounding would only get in the way of.
BTC_USDT_UNFILTERED = MarketInfo(symbol="BTC/USDT", base="BTC", quote="USDT")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def run_config_of(grids_file: Path, **options: Any) -> RunConfig:
    """The run record ``gridsup start`` would build from ``grids_file`` and ``options``
    (``StartOptions`` fields), on paper markets, without starting anything."""
    from gridsup import app
    from gridsup.commands import preflight

    grids = app.load(grids_file)
    return app.build_run_config(
        grids,
        preflight.paper_markets(grids),
        app.StartOptions(**options),
        run_dir="/tmp/x/run-1",
        db_url="sqlite+aiosqlite:///x.db",
    )


def shared_data(name: str = "") -> Path:
    """Path into ../shared/data; skips the test when it is absent (fails under CI)."""
    path = SHARED_DATA / name
    if not path.exists():
        msg = f"{path} is absent: the real Binance candles live in ../shared/data"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


class FakeTime:
    """A clock and a sleep at once: sleeping moves the clock, no wall time passes. A
    sleep still yields to the event loop once, so others run meanwhile, as in a real
    wait."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def eventually(
    check: Callable[[], T], timeout: float = 5.0, interval: float = 0.02, message: str = ""
) -> T:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {message or check}")
        time.sleep(interval)
        last = check()
    return last


async def aeventually(
    check: Callable[[], Awaitable[T]],
    timeout: float = 5.0,
    interval: float = 0.02,
    message: str = "",
) -> T:
    """Async twin of :func:`eventually`."""
    deadline = time.monotonic() + timeout
    last = await check()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {message or check}")
        await asyncio.sleep(interval)
        last = await check()
    return last


async def saved_paper_account(db: Database) -> PaperExchange | None:
    """The paper account the execution actor saved in ``db`` (its split snapshot's core
    and buckets, or a whole snapshot), None when it saved none."""
    from gridsup.actors.execution.state import restore_saved_paper
    from gridsup.actors.persistence.records import decode_state
    from gridsup.actors.run_config import PAPER_ACCOUNT_KEY
    from gridsup.store.state import DatabaseStateStore

    store = DatabaseStateStore(db)

    async def load(key: str) -> bytes | None:
        saved = await store.load(key)
        return None if saved is None else decode_state(saved)[1]

    core = await load(PAPER_ACCOUNT_KEY)
    return None if core is None else await restore_saved_paper(core, load)
