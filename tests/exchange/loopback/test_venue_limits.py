"""The loopback's OKX, Bybit and Kraken request limits (loopback/venue_limits.py): each
venue's published limit refused the venue's way, the time a retry is admitted, and
Binance's weight limiter no longer charging the other venues' paths."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.loopback.venue_limits import (
    KrakenOrderCounter,
    Refusal,
    VenueLimiter,
)


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def refusals(limiter: VenueLimiter, venue: str, path: str, n: int, key: str = "k") -> list[int]:
    """Indexes of the refused ones among ``n`` requests sent at once."""
    method, _, route = path.partition(" ")
    return [i for i in range(n) if isinstance(limiter.admit(venue, method, route, key), Refusal)]


def test_okx_refuses_past_an_endpoints_limit_per_2_s_until_its_window_rolls() -> None:
    clock = Clock()
    limiter = VenueLimiter(clock)

    assert refusals(limiter, "okx", "GET /api/v5/account/balance", 11) == [10]
    assert refusals(limiter, "okx", "GET /api/v5/trade/orders-pending", 60) == []  # its own
    clock.now += 1999
    refused = limiter.admit("okx", "GET", "/api/v5/account/balance", "k")
    clock.now += 1
    admitted = limiter.admit("okx", "GET", "/api/v5/account/balance", "k")

    assert isinstance(refused, Refusal) and refused.retry_at_ms == 1_000_000 + 2000
    assert not isinstance(admitted, Refusal)


def test_bybit_reports_its_limit_and_bans_the_ip_past_600_in_5_s() -> None:
    clock = Clock()
    limiter = VenueLimiter(clock, time_scale=0.001)  # a 30-minute ban lasts 1.8 s

    first = limiter.admit("bybit", "GET", "/v5/account/wallet-balance", "k")
    assert refusals(limiter, "bybit", "GET /v5/account/wallet-balance", 50) == [49]
    refused = limiter.admit("bybit", "GET", "/v5/account/wallet-balance", "k")
    assert refusals(limiter, "bybit", "GET /v5/market/tickers", 600)[:1] == [548]
    banned = limiter.admit("bybit", "POST", "/v5/order/create", "k")

    assert (first.limit, first.remaining) == (50, 49)  # type: ignore[union-attr]
    assert isinstance(refused, Refusal) and refused.limit == 50 and not refused.banned
    assert refused.retry_at_ms == 1_000_000 + 1  # the window is 1 ms at this scale
    assert isinstance(banned, Refusal) and banned.banned
    assert banned.retry_at_ms == limiter.bybit_banned_until == 1_000_000 + 1800


def test_kraken_counts_calls_per_key_trade_history_twice_orders_not_at_all() -> None:
    clock = Clock()
    limiter = VenueLimiter(clock)

    assert refusals(limiter, "kraken", "POST /0/private/AddOrder", 30) == []
    assert refusals(limiter, "kraken", "POST /0/private/TradesHistory", 7) == []  # 14
    assert refusals(limiter, "kraken", "POST /0/public/Ticker", 30) == []
    assert refusals(limiter, "kraken", "POST /0/private/OpenOrders", 1, key="other") == []
    assert refusals(limiter, "kraken", "POST /0/private/OpenOrders", 2) == [1]  # 15, 16
    # the refused call counts too: 16 must decay to 14 before a call of 1 fits again,
    # 2 / 0.33 per s; one call before that is refused (and counts), and so on
    retry_at = 1_000_000 + 6061
    clock.now = retry_at - 1
    early = limiter.admit("kraken", "POST", "/0/private/BalanceEx", "k")
    assert isinstance(early, Refusal) and early.retry_at_ms == retry_at - 1 + 3031
    clock.now = early.retry_at_ms
    late = limiter.admit("kraken", "POST", "/0/private/BalanceEx", "k")

    assert not isinstance(late, Refusal)
    assert limiter.kraken_level("k") == pytest.approx(15, abs=0.01)


def test_krakens_order_counter_and_the_cancel_penalty_of_a_young_order() -> None:
    clock = Clock()
    orders = KrakenOrderCounter(clock)

    placed = [orders.take("XBTUSDT", 1) for _ in range(60)]
    penalty = orders.cancel_penalty(clock.now - 3000)  # a 3 s old order: +8
    refused = orders.take("XBTUSDT", penalty)
    other_pair = orders.take("ETHUSDT", 1)

    assert placed == [None] * 60 and penalty == 8
    assert refused == 1_000_000 + 16_000  # 68 + 8 must decay to 52
    assert other_pair is None
    assert orders.cancel_penalty(clock.now - 400_000) == 0


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState({}, {"key": "c2VjcmV0"})
    async with LoopbackServer(state) as running:
        yield running


async def test_binance_weight_is_charged_on_binance_paths_only(server: LoopbackServer) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/api/v5/market/tickers", "/v5/market/time", "/0/public/Time"):
            async with http.get(server.url + path) as reply:
                assert "X-MBX-USED-WEIGHT-1M" not in reply.headers, path
        async with http.get(server.url + "/api/v3/exchangeInfo") as reply:
            binance = reply.headers["X-MBX-USED-WEIGHT-1M"]

    log = list(server.state.limiter.log)
    assert binance == "20" and server.state.limiter.used == 20
    assert [(r.venue, r.weight) for r in log] == [
        ("okx", 0),
        ("bybit", 0),
        ("kraken", 0),
        ("binance", 20),
    ]


async def test_each_venue_answers_its_own_way_past_its_limit(server: LoopbackServer) -> None:
    kraken_key = {"API-Key": "key"}  # unsigned: counted, then refused for the signature
    async with aiohttp.ClientSession() as http:
        for _ in range(10):
            await (await http.get(server.url + "/api/v5/account/balance")).read()
        okx = await http.get(server.url + "/api/v5/account/balance")
        for _ in range(50):
            await (await http.get(server.url + "/v5/account/wallet-balance")).read()
        bybit = await http.get(server.url + "/v5/account/wallet-balance")
        for _ in range(15):
            await (await http.post(server.url + "/0/private/BalanceEx", headers=kraken_key)).read()
        kraken = await http.post(server.url + "/0/private/BalanceEx", headers=kraken_key)
        answers = [
            (r.status, await r.json(content_type=None), r.headers) for r in (okx, bybit, kraken)
        ]

    (okx_status, okx_body, okx_headers), (_, bybit_body, bybit_headers), (_, kraken_body, _) = (
        answers
    )
    refused = [r for r in server.state.limiter.log if r.retry_at_ms]
    assert (okx_status, okx_body["code"], "Retry-After" in okx_headers) == (429, "50011", False)
    assert bybit_body["retCode"] == 10006 and bybit_headers["X-Bapi-Limit-Status"] == "0"
    assert kraken_body["error"] == ["EAPI:Rate limit exceeded"]
    assert [(r.venue, r.path) for r in refused] == [
        ("okx", "/api/v5/account/balance"),
        ("bybit", "/v5/account/wallet-balance"),
        ("kraken", "/0/private/BalanceEx"),
    ]
    assert int(bybit_headers["X-Bapi-Limit-Reset-Timestamp"]) == refused[1].retry_at_ms


@pytest.mark.parametrize("how", ["lenient", "admin"])
async def test_the_lenient_loopback_or_the_admin_switch_turns_venue_limits_off(how: str) -> None:
    state = LoopbackState({}, {}, lenient=how == "lenient")
    async with LoopbackServer(state) as server, aiohttp.ClientSession() as http:
        if how == "admin":
            async with http.post(server.url + "/admin/config", json={"venue_limits": False}) as r:
                assert (await r.json())["venue_limits"] is False
        codes = [
            (await (await http.get(server.url + "/api/v5/account/balance")).json())["code"]
            for _ in range(12)
        ]

    assert "50011" not in codes
    assert not state.venue_limits.enabled and not state.kraken_orders.enabled
