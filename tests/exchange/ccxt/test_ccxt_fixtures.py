"""ccxt's recorded Binance responses (../shared/data/ccxt_fixtures) parse into our types.

Each recorded ``httpResponse`` is served by the loopback exchange (a ``canned`` fault)
to the real ccxt client through ``CcxtExchange``, and the result is compared with the
unified structure ccxt itself recorded (``parsedResponse``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import DEFAULT_MARKETS, LoopbackServer, LoopbackState, SymbolSpec
from gridsup.exchange.loopback.faults import Canned
from gridsup.exchange.types import Balance, Candle, Order, Ticker, Trade
from gridsup.messages.common import OrderType, Side
from helpers import shared_data

D = Decimal
LTC = SymbolSpec(
    base="LTC",
    quote="USDT",
    tick_size=D("0.01"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    min_notional=D("5"),
)


def num(value: object) -> Decimal | None:
    """ccxt's recorded float as the decimal it was written from."""
    return (
        None if value is None else Decimal(repr(value) if isinstance(value, float) else str(value))
    )


def case(method: str, index: int) -> dict[str, Any]:
    path = shared_data("ccxt_fixtures/response/binance.json")
    data = json.loads(path.read_text())
    found: dict[str, Any] = data["methods"][method][index]
    return found


@pytest.fixture
async def fixture_exchange(
    credentials: tuple[str, str],
) -> AsyncIterator[tuple[LoopbackServer, CcxtExchange]]:
    state = LoopbackState(
        {"USDT": D("100000")}, {credentials[0]: credentials[1]}, specs=(*DEFAULT_MARKETS, LTC)
    )
    server = LoopbackServer(state)
    await server.start()
    ex = CcxtExchange(
        "binance",
        api_key=credentials[0],
        secret=credentials[1],
        url_overrides=server.url_overrides(),
        rate_limit_ms=1,
    )
    try:
        await ex.connect()
        yield server, ex
    finally:
        await ex.close()
        await server.stop()


Call = Callable[[CcxtExchange], Awaitable[Any]]

CASES: list[tuple[str, int, str, str, Call]] = [
    (
        "createOrder",
        0,
        "POST",
        "/api/v3/order",
        lambda ex: ex.create_order(
            "SOL/USDT", Side.BUY, OrderType.LIMIT, D("0.05"), D("241"), "fixture1"
        ),
    ),
    ("fetchOrder", 0, "GET", "/api/v3/order", lambda ex: ex.fetch_order("LTC/USDT", "3397148653")),
    (
        "fetchOpenOrders",
        0,
        "GET",
        "/api/v3/openOrders",
        lambda ex: ex.fetch_open_orders("LTC/USDT"),
    ),
    ("fetchMyTrades", 0, "GET", "/api/v3/myTrades", lambda ex: ex.fetch_my_trades("LTC/USDT")),
    ("fetchBalance", 0, "GET", "/api/v3/account", lambda ex: ex.fetch_balance()),
    (
        "fetchOHLCV",
        0,
        "GET",
        "/api/v3/klines",
        lambda ex: ex.fetch_ohlcv("BTC/USDT", "1h", 1706628191000, 3),
    ),
    ("fetchTicker", 0, "GET", "/api/v3/ticker/24hr", lambda ex: ex.fetch_ticker("BTC/USDT")),
]


def check_order(ours: Order, parsed: dict[str, Any]) -> None:
    assert ours.id == parsed["id"]
    assert ours.client_order_id == parsed["clientOrderId"]
    assert ours.symbol == parsed["symbol"]
    assert ours.side.value == parsed["side"]
    assert ours.status.value == parsed["status"]
    assert ours.amount == num(parsed["amount"])
    assert ours.filled == num(parsed["filled"])
    assert ours.average == num(parsed["average"])
    if ours.type is OrderType.LIMIT:
        assert ours.price == num(parsed["price"])
    else:
        assert ours.price is None


def check(result: Any, parsed: Any) -> None:
    match result:
        case Order():
            check_order(result, parsed)
        case list() if result and isinstance(result[0], Order):
            assert len(result) == len(parsed)
            for ours, theirs in zip(result, parsed, strict=True):
                check_order(ours, theirs)
        case list() if result and isinstance(result[0], Trade):
            assert [
                (t.id, t.order_id, t.price, t.amount, t.fee, t.fee_currency) for t in result
            ] == [
                (
                    p["id"],
                    p["order"],
                    num(p["price"]),
                    num(p["amount"]),
                    num(p["fee"]["cost"]),
                    p["fee"]["currency"],
                )
                for p in parsed
            ]
            assert [t.side.value for t in result] == [p["side"] for p in parsed]
        case list() if result and isinstance(result[0], Candle):
            assert [list(c.__struct_fields__) for c in result[:1]]  # array-like structs
            assert [[c.timestamp, c.open, c.high, c.low, c.close, c.volume] for c in result] == [
                [row[0], *(num(v) for v in row[1:])] for row in parsed
            ]
        case Balance():
            for asset, free in parsed["free"].items():
                if free or parsed["used"][asset]:
                    assert result.free[asset] == num(free)
                    assert result.used[asset] == num(parsed["used"][asset])
            assert result.free  # the recorded account holds something
        case Ticker():
            assert result.symbol == parsed["symbol"]
            assert result.timestamp == parsed["timestamp"]
            assert (result.last, result.bid, result.ask) == (
                num(parsed["last"]),
                num(parsed["bid"]),
                num(parsed["ask"]),
            )
        case _:
            pytest.fail(f"unexpected result {result!r}")


@pytest.mark.parametrize(
    ("method", "index", "http_method", "path", "call"),
    CASES,
    ids=[c[0] for c in CASES],
)
async def test_recorded_binance_response_parses_into_our_types(
    fixture_exchange: tuple[LoopbackServer, CcxtExchange],
    method: str,
    index: int,
    http_method: str,
    path: str,
    call: Call,
) -> None:
    server, ex = fixture_exchange
    recorded = case(method, index)
    server.state.faults.add([Canned(method=http_method, path=path, body=recorded["httpResponse"])])

    result = await call(ex)

    assert server.state.faults.pending() == []  # the recorded answer was the one served
    check(result, recorded["parsedResponse"])
