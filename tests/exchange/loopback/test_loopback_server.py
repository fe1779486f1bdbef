"""The loopback exchange over raw HTTP: Binance's security rules, error codes, filters
and the admin endpoints (no ccxt here: the requests are built by hand)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from gridsup.exchange.candles import load_candles
from gridsup.exchange.feeds import ReplayFeed, SyntheticWalk, paced
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.loopback.server import PriceFeed
from helpers import aeventually, shared_data

D = Decimal


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def signed(secret: str, params: dict[str, Any]) -> str:
    query = urlencode(params)
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


class Client:
    def __init__(self, http: aiohttp.ClientSession, base: str, key: str, secret: str) -> None:
        self.http, self.base, self.key, self.secret = http, base, key, secret

    async def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[int, Any]:
        query = signed(self.secret, {"timestamp": now_ms(), **(params or {})})
        headers = {"X-MBX-APIKEY": self.key}
        if method == "POST":
            response = await self.http.post(
                f"{self.base}{path}",
                data=query,
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            response = await self.http.request(
                method, f"{self.base}{path}?{query}", headers=headers
            )
        async with response:
            return response.status, await response.json()

    async def order(self, **params: Any) -> tuple[int, Any]:
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        return await self.call("POST", "/api/v3/order", {**base, **params})


@pytest.fixture
def client(
    http: aiohttp.ClientSession, loopback: LoopbackServer, credentials: tuple[str, str]
) -> Client:
    return Client(http, loopback.url, *credentials)


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def test_exchange_info_has_binance_filters(
    http: aiohttp.ClientSession, loopback: LoopbackServer
) -> None:
    status, info = await get(http, f"{loopback.url}/api/v3/exchangeInfo?symbol=BTCUSDT")

    assert status == 200
    [btc] = info["symbols"]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    _, all_info = await get(http, f"{loopback.url}/api/v3/exchangeInfo")
    bnb = next(s for s in all_info["symbols"] if s["symbol"] == "BNBUSDT")
    assert "MIN_NOTIONAL" in {f["filterType"] for f in bnb["filters"]}


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v3/ping", None),
        ("/api/v3/time", "serverTime"),
        ("/api/v3/ticker/price?symbol=BTCUSDT", "price"),
        ("/api/v3/ticker/bookTicker?symbol=BTCUSDT", "bidPrice"),
        ("/api/v3/ticker/24hr?symbol=BTCUSDT", "lastPrice"),
    ],
)
async def test_public_endpoints(
    http: aiohttp.ClientSession, loopback: LoopbackServer, path: str, key: str | None
) -> None:
    status, body = await get(http, f"{loopback.url}{path}")

    assert status == 200
    assert body == {} if key is None else key in body


async def test_unknown_symbol(http: aiohttp.ClientSession, loopback: LoopbackServer) -> None:
    assert await get(http, f"{loopback.url}/api/v3/ticker/price?symbol=XRPUSDT") == (
        400,
        {"code": -1121, "msg": "Invalid symbol."},
    )


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"headers": {}}, 401, -2014),  # no X-MBX-APIKEY
        ({"headers": {"X-MBX-APIKEY": "someone-else"}}, 401, -2015),
        ({"secret": "wrong"}, 400, -1022),
        ({"no_signature": True}, 400, -1102),
        ({"timestamp": -60_000}, 400, -1021),  # a minute old, recvWindow 5 s
        ({"timestamp": +5_000}, 400, -1021),  # ahead of the server
    ],
    ids=["no-key", "unknown-key", "bad-signature", "no-signature", "stale", "ahead"],
)
async def test_signed_request_security(
    http: aiohttp.ClientSession,
    loopback: LoopbackServer,
    credentials: tuple[str, str],
    change: dict[str, Any],
    status: int,
    code: int,
) -> None:
    key, secret = credentials
    params = {"timestamp": now_ms() + change.get("timestamp", 0)}
    query = (
        urlencode(params)
        if change.get("no_signature")
        else signed(change.get("secret", secret), params)
    )
    headers = change.get("headers", {"X-MBX-APIKEY": key})

    async with http.get(f"{loopback.url}/api/v3/account?{query}", headers=headers) as response:
        body = await response.json()

    assert (response.status, body["code"]) == (status, code)


async def test_signature_over_query_then_body(
    http: aiohttp.ClientSession, loopback: LoopbackServer, credentials: tuple[str, str]
) -> None:
    key, secret = credentials
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT"
    body = f"timeInForce=GTC&quantity=0.001&price=40000&newClientOrderId=mix1&timestamp={now_ms()}"
    signature = hmac.new(secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()

    async with http.post(
        f"{loopback.url}/api/v3/order?{query}",
        data=f"{body}&signature={signature}",
        headers={"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
    ) as response:
        order = await response.json()

    assert response.status == 200, order
    assert (order["clientOrderId"], order["status"]) == ("mix1", "NEW")


async def test_duplicate_client_order_id(client: Client, loopback: LoopbackServer) -> None:
    first = await client.order(quantity="0.001", price="40000", newClientOrderId="dup")
    second = await client.order(quantity="0.002", price="39000", newClientOrderId="dup")

    assert first[0] == 200
    assert second == (400, {"code": -2010, "msg": "Duplicate order sent."})
    assert loopback.state.orders_by_client_id() == {"dup": [str(first[1]["orderId"])]}


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"quantity": "0.001", "price": "40000.005"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "0.0010001", "price": "40000"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.001", "price": "4000000"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "9001", "price": "40000"}, -1013, "Filter failure: LOT_SIZE"),  # maxQty
        ({"quantity": "0.0001", "price": "40000"}, -1013, "Filter failure: NOTIONAL"),
        ({"quantity": "10", "price": "40000"}, -2010, "insufficient balance"),
        ({"quantity": "0.001", "price": "40000", "type": "STOP_LOSS"}, -1116, "orderType"),
        ({"quantity": "0.001", "price": "40000", "timeInForce": ""}, -1102, "timeInForce"),
        ({"quantity": "abc", "price": "40000"}, -1100, "quantity"),
        ({"quantity": "0.01", "type": "MARKET", "symbol": "BNBUSDT"}, -2010, "liquidity"),
    ],
)
async def test_order_refusals(
    client: Client, params: dict[str, str], code: int, message: str
) -> None:
    status, body = await client.order(**params)

    assert (status, body["code"]) == (400, code)
    assert message in body["msg"]


async def test_order_lifecycle_and_admin_record(
    client: Client, http: aiohttp.ClientSession, loopback: LoopbackServer
) -> None:
    _, placed = await client.order(quantity="0.001", price="41000", newClientOrderId="life1")
    by_client = await client.call(
        "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "life1"}
    )
    async with http.post(
        f"{loopback.url}/admin/price", json={"symbol": "BTCUSDT", "price": "40900"}
    ) as response:
        fills = await response.json()
    filled = await client.call(
        "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    cancel = await client.call(
        "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    trades = await client.call("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
    _, record = await get(http, f"{loopback.url}/admin/orders")

    assert by_client[1]["orderId"] == placed["orderId"]
    assert [t["price"] for t in fills["trades"]] == ["41000"]
    assert filled[1]["status"] == "FILLED" and filled[1]["executedQty"] == "0.00100000"
    assert cancel == (400, {"code": -2011, "msg": "Unknown order sent."})
    assert [(t["price"], t["qty"], t["isBuyer"], t["isMaker"]) for t in trades[1]] == [
        ("41000.00000000", "0.00100000", True, True)
    ]
    assert record["by_client_id"] == {"life1": [str(placed["orderId"])]}
    assert record["orders"][0]["client_order_id"] == "life1"


async def test_admin_faults_validate_and_queue(
    http: aiohttp.ClientSession, loopback: LoopbackServer
) -> None:
    async with http.post(
        f"{loopback.url}/admin/faults", json={"kind": "rate_limit", "count": "two"}
    ) as response:
        error = await response.json()
    async with http.post(
        f"{loopback.url}/admin/faults",
        json=[{"kind": "server_error", "count": 2, "path": "/api/v3/time"}, {"kind": "latency"}],
    ) as response:
        queued = await response.json()
    async with http.get(f"{loopback.url}/api/v3/time") as response:
        first_status = response.status
    async with http.delete(f"{loopback.url}/admin/faults") as response:
        cleared = await response.json()

    assert response.status == 200 and cleared == {"pending": []}
    assert "$.count" in error["error"]
    assert [(f["kind"], f["left"]) for f in queued["pending"]] == [
        ("server_error", 2),
        ("latency", 1),
    ]
    assert first_status == 503


async def test_klines_from_admin_candles(
    http: aiohttp.ClientSession, loopback: LoopbackServer
) -> None:
    for minute, (o, h, lo, c) in enumerate([(100, 110, 90, 105), (105, 120, 100, 118)]):
        candle = {
            "symbol": "SOL/USDT",
            "timestamp": minute * 60_000,
            "open": str(o),
            "high": str(h),
            "low": str(lo),
            "close": str(c),
            "volume": "3",
        }
        async with http.post(f"{loopback.url}/admin/candle", json=candle) as response:
            assert response.status == 200

    _, rows = await get(
        http, f"{loopback.url}/api/v3/klines?symbol=SOLUSDT&interval=5m&startTime=0"
    )

    assert [row[:6] for row in rows] == [
        [0, "100.00000000", "120.00000000", "90.00000000", "118.00000000", "6.00000000"]
    ]


def walk_feed() -> PriceFeed:
    walk = SyntheticWalk("BTC/USDT", D("42000"), seed=7, volatility=0.01, speed=1000)
    return paced(walk)


def replay_feed() -> PriceFeed:
    candles = load_candles(shared_data("binance_SOL-USDT_1m.csv.gz"))
    return paced(ReplayFeed("SOL/USDT", candles), max_delay_s=0.001)


@pytest.mark.parametrize(
    ("symbol", "make_feed"), [("BTCUSDT", walk_feed), ("SOLUSDT", replay_feed)]
)
async def test_pluggable_feeds_move_prices(
    http: aiohttp.ClientSession,
    credentials: tuple[str, str],
    symbol: str,
    make_feed: Callable[[], PriceFeed],
) -> None:
    state = LoopbackState({"USDT": D("100")}, dict([credentials]))
    seen: set[str] = set()

    async with LoopbackServer(state, feed=make_feed()) as server:
        url = f"{server.url}/api/v3/ticker/price?symbol={symbol}"

        async def three_prices_seen() -> bool:
            seen.add((await get(http, url))[1]["price"])
            return len(seen - {"0.00000000"}) >= 3

        await aeventually(three_prices_seen, timeout=10)

    assert len(seen - {"0.00000000"}) >= 3


async def test_my_trades_of_one_order(client: Client, loopback: LoopbackServer) -> None:
    _, first = await client.order(quantity="0.001", price="41000", newClientOrderId="one1")
    _, second = await client.order(quantity="0.002", price="40950", newClientOrderId="two1")
    loopback.state.set_price("BTCUSDT", Decimal("40900"))

    def trades_of(order_id: object, symbol: str = "BTCUSDT") -> Any:
        return client.call("GET", "/api/v3/myTrades", {"symbol": symbol, "orderId": order_id})

    mine = await trades_of(second["orderId"])
    other_symbol = await trades_of(second["orderId"], "ETHUSDT")
    unknown = await trades_of("999")

    assert [(t["orderId"], t["qty"]) for t in mine[1]] == [(second["orderId"], "0.00200000")]
    assert first["orderId"] != second["orderId"]
    assert other_symbol == (200, []) and unknown == (200, [])
