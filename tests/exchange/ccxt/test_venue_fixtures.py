"""ccxt's recorded OKX, Bybit and Kraken answers (../shared/data/ccxt-static) become our
orders and trades: every recorded spot order and trade that ccxt parsed converts with
its fee amount and asset intact, a buy's fee is in the asset the venue's dialect says,
and recorded raw answers served by the loopback (``canned``) reach our records through
the real ccxt class of the venue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from gridsup.exchange.ccxt import convert
from gridsup.exchange.ccxt.dialects import DIALECTS, FeeAsset
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import DEFAULT_MARKETS, LoopbackServer, LoopbackState, SymbolSpec
from gridsup.exchange.loopback.faults import Canned
from gridsup.exchange.loopback.venues import url_overrides
from gridsup.messages.common import OrderType, Side
from helpers import shared_data

D = Decimal
VENUES = ("okx", "bybit", "kraken")
ORDER_METHODS = ("fetchOrder", "fetchOpenOrders", "fetchClosedOrders", "fetchOpenOrder")
ORDER_METHODS += ("fetchClosedOrder",)
KEY, PASSPHRASE = "fixture-key", "fixture-pass"
SECRET = "Zml4dHVyZS1zZWNyZXQtMDEyMzQ1Njc4OQ=="  # base64: Kraken decodes it
LTC = SymbolSpec(
    base="LTC",
    quote="USDT",
    tick_size=D("0.01"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    min_notional=D("5"),
)


def num(value: object) -> Decimal | None:
    """ccxt's recorded number (float or text) as the decimal it was written from."""
    if value is None:
        return None
    return Decimal(repr(value) if isinstance(value, float) else str(value))


def recorded(venue: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_data(f"ccxt-static/{venue}.json").read_text())
    return data


def spot_items(venue: str, methods: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """Every parsed spot order/trade of the given methods, with its method name."""
    found = []
    for method in methods:
        for entry in recorded(venue)["responses"].get(method, []):
            parsed = entry["parsedResponse"]
            for item in parsed if isinstance(parsed, list) else [parsed]:
                if ":" not in str(item.get("symbol")) and item.get("amount") is not None:
                    found.append((method, item))
    return found


@pytest.mark.parametrize("venue", VENUES)
def test_recorded_orders_convert_with_their_fees(venue: str) -> None:
    items = spot_items(venue, ORDER_METHODS)
    assert items, f"no recorded spot order for {venue}"
    dialect = DIALECTS[venue]
    for method, item in items:
        ours = convert.to_order(item)
        assert (ours.id, ours.symbol, ours.side.value) == (
            item["id"],
            item["symbol"],
            item["side"],
        ), method
        assert ours.amount == num(item["amount"]) and ours.filled == num(item["filled"])
        assert ours.status.value == item["status"], method
        assert ours.fee == num(item["fee"]["cost"]), method
        assert ours.fee_currency == item["fee"]["currency"], method
        assert dialect.decode_client_id(ours.client_order_id) == item["clientOrderId"]
        base, quote = item["symbol"].split("/")
        if ours.fee > 0 and ours.side is Side.BUY:
            expected = base if dialect.buy_fee is FeeAsset.BASE else quote
            assert ours.fee_currency == expected, (method, item["symbol"])


@pytest.mark.parametrize("venue", ["okx", "bybit"])
def test_recorded_trades_convert_with_the_fee_in_base_on_a_buy(venue: str) -> None:
    items = spot_items(venue, ("fetchMyTrades",))
    assert items
    for _, item in items:
        ours = convert.to_trade(item)
        base = item["symbol"].split("/")[0]
        assert (ours.id, ours.order_id) == (item["id"], item["order"])
        assert (ours.price, ours.amount) == (num(item["price"]), num(item["amount"]))
        assert (ours.fee, ours.fee_currency) == (num(item["fee"]["cost"]), base)
        assert ours.fee > 0 and ours.side is Side.BUY
        assert ours.taker == (item["takerOrMaker"] == "taker")


# -- recorded raw answers through the real ccxt class ------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState({"USDT": D("1000")}, {KEY: SECRET}, specs=(*DEFAULT_MARKETS, LTC))
    async with LoopbackServer(state, passphrases={KEY: PASSPHRASE}) as running:
        yield running


def raw(venue: str, method: str, index: int = 0) -> dict[str, Any]:
    answer: dict[str, Any] = recorded(venue)["responses"][method][index]["httpResponse"]
    return answer


Call = Callable[[CcxtExchange], Awaitable[Any]]
RAW_CASES: list[tuple[str, str, str, str, Call]] = [
    (
        "okx",
        "fetchMyTrades",
        "GET",
        "/api/v5/trade/fills-history",
        lambda ex: ex.fetch_my_trades("LTC/USDT"),
    ),
    (
        "okx",
        "fetchOrder",
        "GET",
        "/api/v5/trade/order",
        lambda ex: ex.fetch_order("LTC/USDT", "1339107111507525632"),
    ),
    (
        "bybit",
        "fetchMyTrades",
        "GET",
        "/v5/execution/list",
        lambda ex: ex.fetch_my_trades("BTC/USDT"),
    ),
    (
        "bybit",
        "fetchOpenOrder",
        "GET",
        "/v5/order/realtime",
        lambda ex: ex.fetch_order("LTC/USDT", client_order_id="1620421817225451009"),
    ),
    (
        "bybit",
        "createOrder",
        "POST",
        "/v5/order/create",
        lambda ex: ex.create_order(
            "LTC/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D("50"), "1609920528444036608"
        ),
    ),
    (
        "kraken",
        "fetchOpenOrders",
        "POST",
        "/0/private/OpenOrders",
        lambda ex: ex.fetch_order("LTC/USDT", client_order_id="123"),
    ),
    (
        "kraken",
        "createOrder",
        "POST",
        "/0/private/AddOrder",
        lambda ex: ex.create_order(
            "LTC/USDT", Side.BUY, OrderType.LIMIT, D("1"), D("25"), "fixtureorder1"
        ),
    ),
]


@pytest.mark.parametrize(
    ("venue", "method", "verb", "path", "call"),
    RAW_CASES,
    ids=[f"{c[0]}-{c[1]}" for c in RAW_CASES],
)
async def test_recorded_raw_answers_reach_our_records(
    server: LoopbackServer, venue: str, method: str, verb: str, path: str, call: Call
) -> None:
    ex = CcxtExchange(
        venue,
        api_key=KEY,
        secret=SECRET,
        password=PASSPHRASE,
        url_overrides=url_overrides(venue, server.url),
        rate_limit_ms=1,
    )
    try:
        await ex.connect()
        server.state.faults.add([Canned(method=verb, path=path, body=raw(venue, method))])
        result = await call(ex)
    finally:
        await ex.close()
    assert server.state.faults.pending() == []  # the recorded answer was what ccxt read
    match (venue, method):
        case ("okx", "fetchMyTrades"):
            assert [(t.id, t.fee, t.fee_currency, t.side) for t in result] == [
                ("56181695", D("0.0001"), "LTC", Side.BUY)
            ]
        case ("okx", "fetchOrder"):
            assert (result.status.value, result.filled, result.fee, result.fee_currency) == (
                "closed",
                D("0.1"),
                D("0.0001"),
                "LTC",
            )
        case ("bybit", "fetchMyTrades"):
            btc = [t for t in result if t.symbol == "BTC/USDT"]
            assert [(t.id, t.fee, t.fee_currency) for t in btc] == [
                ("2100000000047087120", D("0.000000336"), "BTC")
            ]
        case ("bybit", "fetchOpenOrder"):
            assert (result.id, result.client_order_id, result.status.value) == (
                "1620421817225451008",
                "1620421817225451009",
                "open",
            )
        case ("bybit", "createOrder"):
            assert (result.id, result.client_order_id, result.amount, result.price) == (
                "1609920528435648000",
                "1609920528444036608",
                D("0.1"),
                D("50"),
            )
        case ("kraken", "fetchOpenOrders"):
            assert (result.client_order_id, result.status.value, result.fee_currency) == (
                "123",
                "open",
                "USDT",
            )
        case ("kraken", "createOrder"):
            assert result.id == raw("kraken", "createOrder")["result"]["txid"][0]
            assert result.client_order_id == "fixtureorder1"
            assert result.side is Side.BUY
