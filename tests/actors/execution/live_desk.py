"""A Desk on the live path, without the actor's sockets: the real ccxt client against
the loopback Binance (a real HTTP server in the test's process), one grid ``g`` of 5000
USDT on BTC/USDT, as the execution actor builds it for a live account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from desk_parts import SYMBOL, grids_run

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.execution.venue import LiveVenue
from gridsup.actors.run_config import Mode
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.retry import RetryPolicy

D = Decimal
KEY, SECRET = "live-desk-key-0123456789", "live-desk-secret-abcdefghij"
# Two quick attempts: a test that loses answers does not wait out the real backoff.
QUICK_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


@asynccontextmanager
async def loopback_binance(*, partial_fills: bool = False) -> AsyncIterator[LoopbackServer]:
    """The loopback Binance: 10000 USDT under :data:`KEY`, BTC/USDT last at 42000."""
    state = LoopbackState({"USDT": D(10000)}, {KEY: SECRET}, partial_fills=partial_fills)
    state.set_price(SYMBOL, D(42000))
    async with LoopbackServer(state) as loopback:
        yield loopback


@asynccontextmanager
async def live_desk(
    server: LoopbackServer, retry: RetryPolicy | None = None
) -> AsyncIterator[tuple[Desk, CcxtExchange]]:
    """A connected ccxt client for ``server`` (``retry``: the client's default policy
    unless given) and a Desk trading through it; the client is closed when the block
    ends."""
    exchange = CcxtExchange(
        "binance",
        api_key=KEY,
        secret=SECRET,
        url_overrides=server.url_overrides(),
        rate_limit_ms=1,
        retry=retry or RetryPolicy(),
    )
    try:
        await exchange.connect()
        market = await exchange.market(SYMBOL)
        run = grids_run("g", budget=5000, mode=Mode.LIVE, exchange_id="binance", market=market)
        venue = LiveVenue(exchange, TokenBucket(100))
        yield Desk(run, TrackedOrders(), Budgets({"g": D(5000)}), venue, 1), exchange
    finally:
        await exchange.close()
