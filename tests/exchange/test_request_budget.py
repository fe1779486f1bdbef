"""The host's request budget (exchange/budget.py): weights taken before each request, the
exchange's X-MBX-USED-WEIGHT-1M followed, and a 429/418 pausing every caller of every
process until its Retry-After and counted once for all of them — proven with the real
ccxt client against the loopback exchange, whose requests are logged as they arrive;
and the client's request figures for the metrics (``CcxtExchange.request_status``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from loopback_keys import API_KEY, API_SECRET, BALANCES

from gridsup.exchange.budget import RequestBudget, binance_weight, poll_period
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.loopback import LoopbackState
from gridsup.exchange.loopback.faults import Banned, RateLimit
from gridsup.exchange.loopback.server import binance_url_overrides, create_app
from gridsup.exchange.retry import RetryPolicy
from gridsup.messages import telemetry
from helpers import FakeTime

START = 1_000_040.0  # 20 s into a minute


def budget(fake: FakeTime, path: Path | None = None, limit: int = 100) -> RequestBudget:
    return RequestBudget(limit, 0.5, path=path, clock=fake.clock, sleep=fake.sleep)


def test_the_share_of_the_minute_is_never_passed() -> None:
    fake = FakeTime(START)
    b = budget(fake)

    async def spend() -> None:
        for _ in range(60):
            await b.acquire(1)

    asyncio.run(spend())

    assert fake.slept == [40.0]  # 50 in the first minute (it began 20 s ago), then the next
    assert b.snapshot()["weight_used_1m"] == 10


def test_the_exchanges_count_is_followed_and_shared_through_the_file(tmp_path: Path) -> None:
    fake = FakeTime(START)
    path = tmp_path / "budget-binance.json"
    execution, market = budget(fake, path), budget(fake, path)

    execution.observe({"X-MBX-USED-WEIGHT-1M": "49"})  # someone else on the IP used 49
    asyncio.run(market.acquire(1))
    asyncio.run(market.acquire(1))

    assert fake.slept == [40.0]  # the second did not fit in this minute
    assert execution.snapshot()["weight_used_1m"] == 1


def test_a_ban_stops_every_process_until_retry_after(tmp_path: Path) -> None:
    fake = FakeTime(START)
    path = tmp_path / "budget-binance.json"
    execution, market = budget(fake, path), budget(fake, path)

    execution.ban(7.5, "418")
    asyncio.run(market.acquire(2))

    assert fake.slept == [7.5]
    assert market.snapshot()["banned_s"] == 0


@pytest.mark.parametrize(
    ("op", "symbols", "weight"),
    [
        ("fetch_open_orders", None, 80),
        ("fetch_open_orders", 1, 6),
        ("fetch_tickers", 5, 2),
        ("fetch_tickers", 50, 40),
        ("fetch_tickers", None, 80),
        ("fetch_order_trades", None, 5),
        ("create_order", None, 1),
    ],
)
def test_binance_weights(op: str, symbols: int | None, weight: int) -> None:
    assert binance_weight(op, symbols) == weight


def test_the_poll_period_grows_with_the_weight_of_a_round() -> None:
    assert poll_period(6, 6000, 0.06, 1.0) == 1.0
    assert poll_period(60, 6000, 0.06, 1.0) == 10.0


# -- the real client against the loopback, with the request log --------------------------

# arrival time, path, status answered, the X-MBX-USED-WEIGHT-1M it carried ("" if none)
Log = list[tuple[float, str, int, str]]


@pytest.fixture
async def logged_loopback() -> AsyncIterator[tuple[str, LoopbackState, Log]]:
    state = LoopbackState(BALANCES, {API_KEY: API_SECRET})
    from decimal import Decimal

    state.set_price("BTC/USDT", Decimal("42000"))
    log: Log = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        arrived = time.monotonic()
        response = await handler(request)
        if request.path.startswith("/api/"):
            used = response.headers.get("X-MBX-USED-WEIGHT-1M", "")
            log.append((arrived, request.path, response.status, used))
        return response

    app = create_app(state)
    app.middlewares.insert(0, record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", state, log
    finally:
        await runner.cleanup()


async def test_429_then_418_pause_every_caller_until_retry_after(
    logged_loopback: tuple[str, LoopbackState, Log], tmp_path: Path
) -> None:
    url, state, log = logged_loopback
    path = tmp_path / "budget-binance.json"

    def client() -> CcxtExchange:
        return CcxtExchange(
            "binance",
            api_key=API_KEY,
            secret=API_SECRET,
            url_overrides=binance_url_overrides(url),
            rate_limit_ms=1,
            retry=RetryPolicy(attempts=2, base_delay=0.01, max_retry_after=10),
            budget=RequestBudget(6000, 0.5, path=path),
        )

    execution, market = client(), client()  # two processes' clients, one budget file
    await execution.connect()
    await market.connect()
    stop = asyncio.Event()
    served = 0

    async def grid() -> None:  # N grids polling through the one execution client
        nonlocal served
        while not stop.is_set():
            try:
                await execution.fetch_open_orders("BTC/USDT")
                served += 1
            except ExchangeError:
                pass
            await asyncio.sleep(0.02)

    async def ticks() -> None:
        while not stop.is_set():
            with contextlib.suppress(ExchangeError):
                await market.fetch_tickers(["BTC/USDT"])
            await asyncio.sleep(0.02)

    state.faults.add([RateLimit(retry_after=3, path="/api/v3/openOrders")])
    tasks = [asyncio.create_task(grid()) for _ in range(5)] + [asyncio.create_task(ticks())]
    try:
        await _eventually(lambda: any(s == 429 for _, _, s, _ in log))
        state.faults.add([Banned(retry_after=4, path="/api/v3/openOrders")])
        await _eventually(lambda: any(s == 418 for _, _, s, _ in log), timeout=30)
        mark = served
        await _eventually(lambda: served > mark + 5, timeout=30)  # resumed, no restart
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await execution.close()
        await market.close()

    for status, retry_after in ((429, 3.0), (418, 4.0)):
        banned_at = next(t for t, _, s, _ in log if s == status)
        # Requests already on the wire when the answer left may still land (grace 1 s);
        # none may start later within the ban.
        inside = [
            (t - banned_at, p) for t, p, *_ in log if banned_at + 1.0 < t < banned_at + retry_after
        ]
        assert inside == [], f"requests during the {status} pause: {inside}"
    assert execution.budget is not None and execution.budget.bans >= 2


async def _eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def test_429s_and_418s_are_counted_once_for_every_process(tmp_path: Path) -> None:
    fake = FakeTime(START)
    path = tmp_path / "budget-binance.json"
    execution, market = budget(fake, path), budget(fake, path)

    execution.ban(1.0, "429")
    market.ban(1.0, "429")
    market.ban(30.0, "418")

    figures = execution.status()
    assert (figures[telemetry.HTTP_429], figures[telemetry.HTTP_418]) == (2, 1)
    assert figures[telemetry.BANNED_UNTIL_MS] == int((fake.now + 30) * 1000)
    assert figures[telemetry.WEIGHT_LIMIT] == 100


def test_a_429_pause_is_no_ban() -> None:
    fake = FakeTime(START)
    b = budget(fake)

    b.ban(5.0, "429")

    assert b.status()[telemetry.BANNED_UNTIL_MS] == 0
    assert b.snapshot()["banned_s"] == 5.0  # but everyone waits all the same


def test_a_budget_file_of_an_older_gridsup_is_read(tmp_path: Path) -> None:
    fake = FakeTime(START)
    path = tmp_path / "budget-binance.json"
    window = int(fake.now // 60)
    path.write_text(f'{{"window": {window}, "used": 42, "banned_until": 0.0}}')

    figures = budget(fake, path).status()

    assert figures[telemetry.WEIGHT_USED] == 42
    assert (figures[telemetry.HTTP_429], figures[telemetry.HTTP_418]) == (0, 0)


async def test_the_clients_figures_count_what_the_loopback_answered(
    logged_loopback: tuple[str, LoopbackState, Log], tmp_path: Path
) -> None:
    url, state, log = logged_loopback
    ex = CcxtExchange(
        "binance",
        api_key=API_KEY,
        secret=API_SECRET,
        url_overrides=binance_url_overrides(url),
        rate_limit_ms=1,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_retry_after=10),
        budget=RequestBudget(6000, 0.5, path=tmp_path / "budget-binance.json"),
    )
    try:
        await ex.connect()
        state.faults.add(
            [
                RateLimit(retry_after=1, path="/api/v3/openOrders"),
                Banned(retry_after=1, path="/api/v3/openOrders"),
            ]
        )
        await ex.fetch_open_orders("BTC/USDT")  # 429, 418, then served
        figures = ex.request_status()
    finally:
        await ex.close()

    assert [s for _, _, s, _ in log] == [200, 429, 418, 200]
    assert (figures[telemetry.HTTP_429], figures[telemetry.HTTP_418]) == (1, 1)
    assert figures[telemetry.LATENCY_COUNT] == len(log)
    assert figures[telemetry.EXCHANGE_REACHABLE] is True
    # exchangeInfo (20) + three tries of openOrders for one symbol (6 each), as the
    # venue counted them; its window is the minute, so a run across a minute's turn
    # starts again (the figure is the venue's last header, not our own sum)
    assert figures[telemetry.WEIGHT_USED] == int(log[-1][3])
    assert int(log[-1][3]) in {20 + 3 * 6, *(n * 6 for n in (1, 2, 3))}


async def test_a_client_whose_venue_is_gone_reports_it_unreachable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ex = CcxtExchange(
        "binance",
        url_overrides=binance_url_overrides(url),
        rate_limit_ms=1,
        retry=RetryPolicy(attempts=3, base_delay=0.01),
    )
    try:
        with pytest.raises(ExchangeError):
            await ex.connect()
        figures = ex.request_status()
    finally:
        await ex.close()

    assert figures[telemetry.EXCHANGE_REACHABLE] is False
    assert figures[telemetry.LATENCY_COUNT] == 3
    assert telemetry.WEIGHT_USED not in figures  # no budget, no weight
