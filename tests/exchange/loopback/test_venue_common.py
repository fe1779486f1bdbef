"""What the OKX, Bybit and Kraken dialects share (venue_common.py), and the ccxt URL
overrides (urls.py), without a server: the market look-ups a dialect refuses its own
way, the order a request asks for, the newest trades, the overrides per venue."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import STATE
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import DayStats, LoopbackState
from gridsup.exchange.loopback.urls import url_overrides
from gridsup.exchange.loopback.venue_common import (
    Handler,
    OrderRequest,
    VenueDialect,
    VenueError,
    holdings,
    int_param,
    newest_trades,
    order_request,
)
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.messages.common import OrderType, Side


class UnknownMarket(VenueError):
    def answer(self, now_ms: int) -> web.Response:
        return web.Response(status=404, text=f"unknown at {now_ms}")


class Refused(VenueError):
    def answer(self, now_ms: int) -> web.Response:
        return web.Response(status=400, text=f"refused: {self}")


def dash_id(spec: SymbolSpec) -> str:
    return f"{spec.base}-{spec.quote}"


DIALECT = VenueDialect(
    prefix="/test/",
    market_id=dash_id,
    unknown_market=UnknownMarket,
    error_for=lambda exc: Refused(type(exc).__name__),
)


class Clock:
    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def account(clock: Clock | None = None) -> LoopbackState:
    state = LoopbackState(
        {"USDT": Decimal(10_000), "BTC": Decimal(1)}, {"k": "s"}, clock=clock or Clock()
    )
    state.set_price("BTC/USDT", Decimal(42_000))
    return state


def test_a_dialect_finds_a_market_by_the_venues_name_for_it() -> None:
    state = account()

    assert DIALECT.market(state, "BTC-USDT").symbol == "BTC/USDT"
    assert DIALECT.named_market(state, "BTC-USDT") == DIALECT.market(state, "BTC-USDT")


@pytest.mark.parametrize("name", ["BTCUSDT", "BTC/USDT", "NOPE-USDT"])
def test_a_name_no_market_has_is_refused_the_venues_way(name: str) -> None:
    state = account()

    with pytest.raises(UnknownMarket):
        DIALECT.market(state, name)
    with pytest.raises(UnknownMarket):
        DIALECT.named_market(state, name)


@pytest.mark.parametrize("name", [None, ""])
def test_no_name_is_all_markets_where_one_is_optional_and_refused_where_one_is_needed(
    name: str | None,
) -> None:
    state = account()

    assert DIALECT.named_market(state, name) is None
    with pytest.raises(UnknownMarket):
        DIALECT.market(state, name)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            ("buy", "limit", "0.5", "41000"),
            OrderRequest(Side.BUY, OrderType.LIMIT, Decimal("0.5"), Decimal(41_000)),
        ),
        (
            ("Sell", "Market", "1", "41000"),
            OrderRequest(Side.SELL, OrderType.MARKET, Decimal(1), None),
        ),
        (("BUY", "LIMIT", "1", None), OrderRequest(Side.BUY, OrderType.LIMIT, Decimal(1), None)),
        (("buy", "limit", "1", "-5"), OrderRequest(Side.BUY, OrderType.LIMIT, Decimal(1), None)),
        (("hold", "limit", "1", "41000"), None),
        (("buy", "stop", "1", "41000"), None),
        (("buy", "limit", "0", "41000"), None),
        (("buy", "limit", "abc", "41000"), None),
        ((None, None, None, None), None),
    ],
)
def test_the_order_a_request_asks_for(
    fields: tuple[object, object, object, object], expected: OrderRequest | None
) -> None:
    assert order_request(*fields) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("25", 25), (7, 7), ("", None), (None, None), ("-1", None), ("1.5", None)]
)
def test_a_whole_number_field(raw: object, expected: int | None) -> None:
    assert int_param(raw) == expected


def test_newest_trades_come_newest_first_from_a_time_on_at_most_a_limit() -> None:
    clock = Clock()
    state = account(clock)
    spec = state.spec("BTC/USDT")
    for i in range(4):
        clock.now += 1000
        state.place(spec, Side.SELL, OrderType.MARKET, Decimal("0.01"), None, f"t{i}")
    times = [t.timestamp for t in newest_trades(state, None, None, 10)]

    since = newest_trades(state, spec, times[2], 10)
    limited = newest_trades(state, spec, None, 2)

    assert times == sorted(times, reverse=True) and len(times) == 4
    assert [t.timestamp for t in since] == times[:3]
    assert [t.timestamp for t in limited] == times[:2]


def test_holdings_list_every_asset_free_used_and_total() -> None:
    state = account()
    spec = state.spec("BTC/USDT")
    state.place(spec, Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal(40_000), "b1")

    usdt = {h.asset: h for h in holdings(state.paper.balance())}["USDT"]

    assert usdt.used > 0
    assert usdt.free + usdt.used == usdt.total == Decimal(10_000)


def test_a_day_without_prices_is_flat_at_the_last_price() -> None:
    state = LoopbackState({}, {}, clock=Clock())

    day = state.day_stats("BTCUSDT", Decimal(5), 123)

    assert day == DayStats(Decimal(5), Decimal(5), Decimal(5), Decimal(0), 123)


@pytest.mark.parametrize(
    ("venue", "expected"),
    [
        ("okx", {"rest": "http://h:1"}),
        ("bybit", {"public": "http://h:1", "private": "http://h:1"}),
        ("kraken", {"public": "http://h:1", "private": "http://h:1"}),
    ],
)
def test_each_venue_is_pointed_at_the_loopbacks_base_url(
    venue: str, expected: dict[str, str]
) -> None:
    assert url_overrides(venue, "http://h:1/") == expected


def test_binance_gets_rest_and_websocket_overrides() -> None:
    overrides = url_overrides("binance", "http://h:1")

    assert overrides["public"] == "http://h:1/api/v3"
    assert overrides["ws"] == "ws://h:1/ws"
    assert overrides["ws-api"] == "ws://h:1/ws-api/v3"


def test_a_venue_the_loopback_does_not_speak_is_refused() -> None:
    with pytest.raises(ValueError, match="does not speak"):
        url_overrides("coinbase", "http://h:1")


def raising(exc: Exception) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (Refused("own"), 400, "refused: own"),
        (BinanceError(400, -1121, "Invalid symbol."), 404, "unknown at 1700000000000"),
        (errors.InsufficientFunds("short"), 400, "refused: InsufficientFunds"),
    ],
)
async def test_a_guarded_route_answers_every_refusal_the_venues_way(
    exc: Exception, status: int, text: str
) -> None:
    app = web.Application()
    app[STATE] = account()

    answer = await DIALECT.guard(raising(exc))(make_mocked_request("GET", "/test/x", app=app))

    assert (answer.status, answer.text) == (status, text)
