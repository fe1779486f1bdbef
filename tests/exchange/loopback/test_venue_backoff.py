"""A rate-limit answer of OKX, Bybit or Kraken stops every caller of the budget until the
venue's retry time: the real ccxt class of each venue, with its request budget
(exchange/venue_budget.py), against the loopback dialect enforcing the venue's limits,
after another tool on the same key has used them up. The loopback's own request log
shows no request between a refusal and the time it named (but those already on the
wire), and the callers resume by themselves."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiohttp
import pytest
from venue_support import KEY, OPENING, PASSPHRASE, SECRET

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.loopback.limits import RequestRecord
from gridsup.exchange.loopback.urls import url_overrides
from gridsup.exchange.retry import RetryPolicy
from gridsup.exchange.venue_budget import CounterBudget
from gridsup.exchange.venue_rates import VENUE_LIMITS

# The venue's time at this scale (OKX's 2 s window, Kraken's 0.33/s decay), loopback
# and budget alike; Bybit's reset time is the header's, 1 s at most.
SCALE = {"okx": 0.25, "bybit": 1.0, "kraken": 0.05}
# Another tool on the same key fills the limit of the endpoint fetch_balance uses.
FILL = {
    "okx": ("GET", "/api/v5/account/balance", 10),
    "bybit": ("GET", "/v5/account/wallet-balance", 50),
    "kraken": ("POST", "/0/private/BalanceEx", 15),
}
IN_FLIGHT_MS = 100  # requests already sent when the first refusal came back
CALLERS = 3


def budgeted_client(venue: str, server: LoopbackServer) -> CcxtExchange:
    limits = VENUE_LIMITS[venue].scaled(SCALE[venue])
    return CcxtExchange(
        venue,
        api_key=KEY,
        secret=SECRET,
        password=PASSPHRASE,
        url_overrides=url_overrides(venue, server.url),
        rate_limit_ms=1,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=10),
        budget=CounterBudget(limits, 0.5),
    )


async def fill_the_limit(venue: str, url: str) -> None:
    method, path, count = FILL[venue]
    headers = {"API-Key": KEY} if venue == "kraken" else {}  # Kraken counts per key
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            async with http.request(method, url + path, headers=headers) as reply:
                await reply.read()


def early_requests(log: list[RequestRecord], venue: str) -> list[tuple[int, str]]:
    """Requests that started after a refusal (but those on the wire) and before the
    retry time it named, as (ms after the refusal, path)."""
    ours = [r for r in log if r.venue == venue]
    early = []
    for refusal in (r for r in ours if r.retry_at_ms):
        early += [
            (r.time_ms - refusal.time_ms, r.path)
            for r in ours
            if refusal.time_ms + IN_FLIGHT_MS < r.time_ms < refusal.retry_at_ms
        ]
    return early


@pytest.mark.parametrize("venue", ["okx", "bybit", "kraken"])
async def test_a_rate_limit_answer_holds_every_caller_until_the_retry_time(venue: str) -> None:
    state = LoopbackState(OPENING, {KEY: SECRET}, time_scale=SCALE[venue])
    async with LoopbackServer(state, passphrases={KEY: PASSPHRASE}) as server:
        ex = budgeted_client(venue, server)
        await ex.connect()
        await fill_the_limit(venue, server.url)
        start = len(state.limiter.log)
        served = 0
        stop = asyncio.Event()

        async def caller() -> None:  # grids asking for the balance through one client
            nonlocal served
            while not stop.is_set():
                with contextlib.suppress(ExchangeError):
                    await ex.fetch_balance()
                    served += 1
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(caller()) for _ in range(CALLERS)]
        try:
            await eventually(lambda: served >= 2 * CALLERS)  # resumed by themselves
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await ex.close()

    log = list(state.limiter.log)[start:]
    refused = [r for r in log if r.retry_at_ms]
    assert ex.budget is not None
    assert refused, "the venue never refused: the limit was not reached"
    assert early_requests(log, venue) == []
    assert len(refused) <= CALLERS  # only those on the wire together: no retry storm
    assert isinstance(ex.budget, CounterBudget) and ex.budget.bans >= 1


async def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
