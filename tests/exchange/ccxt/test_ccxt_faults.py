"""Each fault the loopback exchange injects: CcxtExchange recovers or fails with our
error type, and the server's record shows exactly one order per client id."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.errors import (
    AmbiguousOrder,
    ExchangeError,
    ExchangeUnavailable,
    RateLimited,
)
from gridsup.exchange.loopback import LoopbackServer
from gridsup.exchange.loopback.faults import (
    Banned,
    Canned,
    Fault,
    Latency,
    RateLimit,
    ResponseLost,
    ServerError,
    TimestampError,
)
from gridsup.messages.common import OrderStatus, OrderType, Side

D = Decimal
BTC = "BTC/USDT"
ORDER = "/api/v3/order"


def one_order_per_client_id(loopback: LoopbackServer) -> dict[str, list[str]]:
    by_client = loopback.state.orders_by_client_id()
    assert all(len(ids) == 1 for ids in by_client.values()), by_client
    return by_client


@pytest.mark.parametrize(
    ("faults", "backoff"),
    [
        ([RateLimit(count=2, method="POST", path=ORDER, retry_after=1)], [1.0, 1.0]),
        ([Banned(method="POST", path=ORDER, retry_after=2)], [2.0]),
        ([ServerError(count=2, method="POST", path=ORDER, status=503)], [0.01, 0.02]),
        ([ServerError(method="POST", path=ORDER, status=500)], [0.01]),
        ([TimestampError(method="POST", path=ORDER)], [0.01]),
        ([Latency(method="POST", path=ORDER, delay=0.3)], []),
    ],
    ids=["429", "418", "503x2", "500", "-1021", "latency"],
)
async def test_create_recovers_from_faults_rejected_before_execution(
    exchange: CcxtExchange,
    loopback: LoopbackServer,
    backoff_delays: list[float],
    faults: list[Fault],
    backoff: list[float],
) -> None:
    loopback.state.faults.add(faults)

    order = await exchange.create_order(
        BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("41000"), "f1"
    )

    assert order.client_order_id == "f1" and order.status is OrderStatus.OPEN
    assert one_order_per_client_id(loopback) == {"f1": [order.id]}
    assert backoff_delays == backoff  # Retry-After honoured
    assert loopback.state.faults.pending() == []


@pytest.mark.parametrize(
    "fault",
    [
        ResponseLost(method="POST", path=ORDER),  # connection dropped after placing
        ResponseLost(method="POST", path=ORDER, hang=2.0),  # answer after the client timeout
    ],
    ids=["dropped", "timeout"],
)
async def test_lost_create_response_is_settled_by_client_id(
    exchange: CcxtExchange, loopback: LoopbackServer, fault: Fault
) -> None:
    loopback.state.faults.add([fault])

    order = await exchange.create_order(
        BTC, Side.SELL, OrderType.LIMIT, D("0.01"), D("43000"), "lost1"
    )

    assert order.client_order_id == "lost1" and order.status is OrderStatus.OPEN
    assert one_order_per_client_id(loopback) == {"lost1": [order.id]}
    assert loopback.state.accepted[0].response_lost
    # the look-up (GET /api/v3/order) settled it: no second POST was needed
    assert loopback.state.requests[f"POST {ORDER}"] == 1


async def test_lost_response_then_failed_lookup_is_ambiguous(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    loopback.state.faults.add(
        [
            ResponseLost(method="POST", path=ORDER),
            ServerError(count=10, method="GET", path=ORDER),
        ]
    )

    with pytest.raises(AmbiguousOrder) as raised:
        await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("41000"), "amb1")

    assert raised.value.client_order_id == "amb1"
    assert one_order_per_client_id(loopback) == {"amb1": ["1"]}
    # Later, once the exchange answers again, the order is found: it was never doubled.
    loopback.state.faults.clear()
    found = await exchange.fetch_order(BTC, client_order_id="amb1")
    assert found.id == "1"


async def test_create_not_placed_by_5xx_is_retried_once_lookup_says_absent(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    loopback.state.faults.add([ServerError(method="POST", path=ORDER)])

    order = await exchange.create_order(
        BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("41000"), "absent1"
    )

    assert one_order_per_client_id(loopback) == {"absent1": [order.id]}
    assert loopback.state.requests[f"GET {ORDER}"] == 1  # looked up before the retry
    assert loopback.state.requests[f"POST {ORDER}"] == 2


async def test_timestamp_error_resyncs_the_clock_then_succeeds(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    loopback.state.faults.add([TimestampError(path="/api/v3/account")])

    balance = await exchange.fetch_balance()

    assert balance.free["USDT"] == D("10000")
    assert loopback.state.requests["GET /api/v3/time"] == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (RateLimit(count=10, path="/api/v3/account", retry_after=1), RateLimited),
        (ServerError(count=10, path="/api/v3/account"), ExchangeUnavailable),
        (TimestampError(count=10, path="/api/v3/account"), ExchangeUnavailable),
    ],
    ids=["429", "503", "-1021"],
)
async def test_persistent_faults_fail_with_our_error(
    exchange: CcxtExchange, loopback: LoopbackServer, fault: Fault, error: type[ExchangeError]
) -> None:
    loopback.state.faults.add([fault])

    with pytest.raises(error):
        await exchange.fetch_balance()

    assert loopback.state.requests["GET /api/v3/account"] == 4  # the policy's attempts


async def test_retry_after_beyond_the_cap_is_raised_at_once(
    exchange: CcxtExchange, loopback: LoopbackServer, backoff_delays: list[float]
) -> None:
    loopback.state.faults.add([RateLimit(path="/api/v3/account", retry_after=600)])

    with pytest.raises(RateLimited) as raised:
        await exchange.fetch_balance()

    assert raised.value.retry_after == 600
    assert backoff_delays == []


async def test_faulted_reads_recover(exchange: CcxtExchange, loopback: LoopbackServer) -> None:
    loopback.state.faults.add(
        [
            ResponseLost(path="/api/v3/ticker/24hr"),
            RateLimit(path="/api/v3/openOrders", retry_after=0),
        ]
    )

    tickers = await exchange.fetch_tickers([BTC])
    orders = await exchange.fetch_open_orders()

    assert tickers[BTC].last == D("42000")
    assert orders == []


ORDER_UNKNOWN = {"code": -2013, "msg": "Order does not exist."}


async def test_late_duplicate_after_a_lagging_lookup_is_settled(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    # The answer is lost, and the first look-up lags behind (says "does not exist"):
    # the retry with the same client id is refused as a duplicate, which settles it.
    loopback.state.faults.add(
        [
            ResponseLost(method="POST", path=ORDER),
            Canned(method="GET", path=ORDER, status=400, body=ORDER_UNKNOWN),
        ]
    )

    order = await exchange.create_order(
        BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("41000"), "late1"
    )

    assert order.client_order_id == "late1"
    assert one_order_per_client_id(loopback) == {"late1": [order.id]}
    assert loopback.state.requests[f"POST {ORDER}"] == 2  # the second was refused


async def test_duplicate_that_no_lookup_finds_is_ambiguous(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    loopback.state.faults.add(
        [
            ResponseLost(method="POST", path=ORDER),
            Canned(count=2, method="GET", path=ORDER, status=400, body=ORDER_UNKNOWN),
        ]
    )

    with pytest.raises(AmbiguousOrder) as raised:
        await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("41000"), "amb2")

    assert raised.value.client_order_id == "amb2"
    assert one_order_per_client_id(loopback) == {"amb2": ["1"]}


async def test_retry_after_comes_from_the_response_that_raised(
    exchange: CcxtExchange, loopback: LoopbackServer, backoff_delays: list[float]
) -> None:
    # Many concurrent requests finish around the rate-limited one; its Retry-After
    # must still be the one that is waited.
    loopback.state.faults.add(
        [
            RateLimit(path="/api/v3/account", retry_after=3),
            Latency(count=20, path="/api/v3/ticker/24hr", delay=0.01),
        ]
    )

    results = await asyncio.gather(
        exchange.fetch_balance(), *(exchange.fetch_ticker(BTC) for _ in range(20))
    )

    assert results[0].free["USDT"] == D("10000")
    assert backoff_delays == [3.0]
