"""Fixtures for the ccxt adapter and loopback exchange tests: a loopback exchange on
127.0.0.1 (real HTTP, port 0) and a real ccxt ``binance`` client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from loopback_keys import API_KEY, API_SECRET, BALANCES

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.retry import RetryPolicy


class RecordingSleep:
    """Hand-written fake for the backoff's sleep: records the delays, waits nothing."""

    def __init__(self, delays: list[float]) -> None:
        self.delays = delays

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def loopback() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState(BALANCES, {API_KEY: API_SECRET})
    state.set_price("BTC/USDT", Decimal("42000"))
    state.set_price("ETH/USDT", Decimal("2500"))
    async with LoopbackServer(state) as server:
        yield server


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The (key, secret) the loopback exchange accepts."""
    return API_KEY, API_SECRET


@pytest.fixture
def backoff_delays() -> list[float]:
    """The delays the ``exchange`` fixture's retries asked to sleep, in order."""
    return []


@pytest.fixture
async def exchange(
    loopback: LoopbackServer, backoff_delays: list[float]
) -> AsyncIterator[CcxtExchange]:
    """``CcxtExchange('binance')`` against the loopback; fast backoff, short timeout.

    Rate limiting stays on (ccxt's throttle), only its spacing is shortened.
    """
    ex = CcxtExchange(
        "binance",
        api_key=API_KEY,
        secret=API_SECRET,
        url_overrides=loopback.url_overrides(),
        rate_limit_ms=1,
        timeout_ms=1500,
        retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5),
        sleep=RecordingSleep(backoff_delays),
    )
    await ex.connect()
    try:
        yield ex
    finally:
        await ex.close()
