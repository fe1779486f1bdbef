"""Keys refused mid-run: Binance answers -2015 (HTTP 401), which the pinned ccxt raises as
a rate limit (DDoSProtection) once the client has made any private request. gridsup
takes it as the keys refused (``AuthenticationError``: the account pauses) and not as a
ban of the host's request budget (which would stop every process, public requests
too) — on REST and on the WebSocket API's user-data subscription."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from loopback_keys import API_KEY, API_SECRET, BALANCES

from gridsup.exchange.budget import RequestBudget
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.ccxt.streams import CcxtUserStream
from gridsup.exchange.errors import AuthenticationError
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.retry import RetryPolicy


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState(BALANCES, {API_KEY: API_SECRET})
    state.set_price("BTC/USDT", Decimal(42000))
    async with LoopbackServer(state) as srv:
        yield srv


async def test_a_key_revoked_mid_run_is_a_refusal_not_a_ban(server: LoopbackServer) -> None:
    budget = RequestBudget(6000, 0.5)
    exchange = CcxtExchange(
        "binance",
        api_key=API_KEY,
        secret=API_SECRET,
        url_overrides=server.url_overrides(),
        rate_limit_ms=1,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02),
        budget=budget,
    )
    await exchange.connect()
    try:
        assert await exchange.fetch_open_orders("BTC/USDT") == []  # a private success first
        server.state.refuse_keys(True)
        before = sum(server.state.requests.values())
        with pytest.raises(AuthenticationError, match="-2015"):
            await exchange.fetch_open_orders("BTC/USDT")
        sent = sum(server.state.requests.values()) - before
    finally:
        await exchange.close()

    assert sent == 1  # not retried as a temporary error
    assert budget.bans == 0 and budget.snapshot()["banned_s"] == 0


async def test_a_refused_stream_subscription_is_a_refusal(server: LoopbackServer) -> None:
    server.state.refuse_keys(True)
    stream = CcxtUserStream(
        "binance",
        api_key=API_KEY,
        secret=API_SECRET,
        url_overrides=server.url_overrides(),
        keepalive_ms=1000,
    )
    try:
        # ccxt masks this refusal behind a KeyError of its own clean-up (streams.py).
        with pytest.raises(AuthenticationError, match="-2015"):
            await stream.connect()
        await stream.reset("keys refused")
    finally:
        await stream.close()
