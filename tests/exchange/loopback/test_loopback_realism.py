"""The realistic loopback (Binance's rules, the default) through the real ccxt client:
commissions in the asset received and in BNB, crossing limit orders filled as taker,
LIMIT_MAKER refused, fills in several trades, cancel of a partial, myTrades by orderId,
every filter and refusal code, symbol status, weights, 429 then 418 bans, clock offset.
docs/exchange.md, "The realistic loopback"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from test_loopback_server import Client

from gridsup.exchange.ccxt.client import DEFAULT_OPTIONS
from gridsup.exchange.ccxt.dialects import dialect_for
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import DEFAULT_MARKETS, LoopbackServer, LoopbackState
from gridsup.exchange.retry import RetryPolicy
from gridsup.messages.common import OrderStatus, OrderType, Side
from helpers import aeventually

D = Decimal
BTC = "BTC/USDT"
KEY, SECRET = "realism-key-0123456789", "realism-secret-abcdefghij"
START = {"USDT": D("10000"), "BTC": D("0.5"), "BNB": D("1")}


@asynccontextmanager
async def served(**options: Any) -> AsyncIterator[tuple[LoopbackState, CcxtExchange, str]]:
    """A realistic loopback (``options`` to ``LoopbackState``) and a CcxtExchange on it."""
    state = LoopbackState(options.pop("balances", START), {KEY: SECRET}, **options)
    state.set_price(BTC, D("42000"))
    state.set_price("BNB/USDT", D("600"))
    async with LoopbackServer(state) as server:
        ex = CcxtExchange(
            "binance",
            api_key=KEY,
            secret=SECRET,
            url_overrides=server.url_overrides(),
            rate_limit_ms=1,
            timeout_ms=3000,
            retry=RetryPolicy(attempts=1, base_delay=0.01, max_delay=0.01),
        )
        await ex.connect()
        try:
            yield state, ex, server.url
        finally:
            await ex.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def test_a_buy_pays_its_fee_in_base_and_a_sell_in_quote() -> None:
    async with served() as (state, ex, _):
        buy = await ex.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("41500"), "b1")
        assert (await ex.fetch_balance()).used["USDT"] == D("415")  # cost only: no fee lock
        state.set_price(BTC, D("41400"))
        sell = await ex.create_order(BTC, Side.SELL, OrderType.LIMIT, D("0.00999"), D("42000"))
        state.set_price(BTC, D("42100"))
        trades = await ex.fetch_my_trades(BTC)
        balance = await ex.fetch_balance()

    assert [(t.order_id, t.fee, t.fee_currency, t.taker) for t in trades] == [
        (buy.id, D("0.00001"), "BTC", False),
        (sell.id, D("0.41958"), "USDT", False),  # 0.00999 * 42000 * 0.1 %
    ]
    assert balance.total("BTC") == D("0.5") + D("0.01") - D("0.00001") - D("0.00999")
    assert balance.total("USDT") == D("10000") - D("415") + D("419.58") - D("0.41958")
    assert balance.total("BNB") == D("1")


async def test_with_bnb_fees_on_the_commission_is_bnb_at_a_quarter_off() -> None:
    async with served(bnb_fees=True) as (state, ex, _):
        buy = await ex.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("41500"), "b1")
        state.set_price(BTC, D("41400"))
        trade = (await ex.fetch_my_trades(BTC))[0]
        balance = await ex.fetch_balance()

    # 415 USDT * 0.1 % * 0.75 = 0.31125 USDT, at 600 USDT/BNB = 0.000518750 BNB
    assert (trade.order_id, trade.fee, trade.fee_currency) == (buy.id, D("0.00051875"), "BNB")
    assert balance.total("BTC") == D("0.51")  # the whole amount received
    assert balance.total("USDT") == D("10000") - D("415")
    assert balance.total("BNB") == D("1") - D("0.00051875")


async def test_with_too_little_bnb_the_commission_falls_back_to_the_asset_received() -> None:
    balances = {**START, "BNB": D("0.0001")}
    async with served(bnb_fees=True, balances=balances) as (state, ex, _):
        await ex.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("41500"))
        state.set_price(BTC, D("41400"))
        trade = (await ex.fetch_my_trades(BTC))[0]
        balance = await ex.fetch_balance()

    assert (trade.fee, trade.fee_currency) == (D("0.00001"), "BTC")
    assert balance.total("BNB") == D("0.0001")


async def test_a_crossing_limit_order_fills_at_once_as_taker_at_the_market_price() -> None:
    async with served() as (_, ex, _url):
        order = await ex.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("43000"))
        trades = await ex.fetch_my_trades(BTC)
        balance = await ex.fetch_balance()

    assert order.status is OrderStatus.CLOSED and order.average == D("42000")
    assert [(t.price, t.amount, t.fee, t.fee_currency, t.taker) for t in trades] == [
        (D("42000"), D("0.01"), D("0.00001"), "BTC", True)
    ]
    assert balance.total("USDT") == D("10000") - D("420")  # not the 430 of the limit
    assert balance.used.get("USDT", D(0)) == 0


async def test_lenient_mode_keeps_the_old_exchange() -> None:
    async with served(lenient=True) as (_, ex, _url):
        order = await ex.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("43000"))
        balance = await ex.fetch_balance()

    assert order.status is OrderStatus.OPEN  # a crossing order rests
    assert balance.used["USDT"] == D("430") * D("1.001")  # the fee in quote, locked


async def test_fills_in_several_trades_then_cancel_of_the_partial() -> None:
    async with served(fill_pieces=3) as (state, ex, url):
        state.paper.fill_cap = D("0.006")  # one price touch fills 0.006 of the order
        order = await ex.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("41500"), "p1")
        state.set_price(BTC, D("41400"))
        partial = await ex.fetch_order(BTC, order_id=order.id)
        canceled = await ex.cancel_order(order.id, BTC)
        client = ccxt_async.binance(
            {
                "apiKey": KEY,
                "secret": SECRET,
                "options": {**DEFAULT_OPTIONS, **dialect_for("binance").ccxt_options},
            }
        )
        client.urls["api"].update(
            {"public": f"{url}/api/v3", "private": f"{url}/api/v3", "v1": f"{url}/api/v1"}
        )
        try:
            by_order = await client.fetch_order_trades(order.id, BTC)
        finally:
            await client.close()
        balance = await ex.fetch_balance()

    assert (partial.status, partial.filled) == (OrderStatus.OPEN, D("0.006"))
    assert (canceled.status, canceled.filled) == (OrderStatus.CANCELED, D("0.006"))
    assert [D(str(t["amount"])) for t in by_order] == [D("0.002")] * 3
    assert len({t["id"] for t in by_order}) == 3  # each trade its own id
    assert {t["order"] for t in by_order} == {order.id}
    assert sum(D(str(t["fee"]["cost"])) for t in by_order) == D("0.000006")
    assert balance.total("BTC") == D("0.5") + D("0.006") - D("0.000006")
    assert balance.total("USDT") == D("10000") - D("0.006") * D("41500")
    assert balance.used.get("USDT", D(0)) == 0


async def refusal(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    return await Client(http, url, KEY, SECRET).order(**params)


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"quantity": "0.01", "price": "43000", "type": "LIMIT_MAKER"}, -2010,
         "Order would immediately match and take."),
        ({"quantity": "0.001", "price": "300000"}, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        ({"quantity": "0.001", "price": "8000"}, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        ({"quantity": "0.001", "price": "0.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "101", "type": "MARKET", "side": "SELL"}, -1013,
         "Filter failure: MARKET_LOT_SIZE"),
        ({"quantity": "0.00001", "price": "42000"}, -1013, "Filter failure: NOTIONAL"),
        ({"quantity": "1", "price": "41000"}, -2010,
         "Account has insufficient balance for requested action."),
        ({"quantity": "0.008", "type": "MARKET", "symbol": "BNBUSDT"}, -1013,
         "Filter failure: MIN_NOTIONAL"),
    ],
)  # fmt: skip
async def test_each_filter_refuses_with_binances_code(
    http: aiohttp.ClientSession, params: dict[str, str], code: int, message: str
) -> None:
    async with served() as (state, _, url):
        status, body = await refusal(http, url, **params)
        assert state.paper.open_orders() == []

    assert (status, body) == (400, {"code": code, "msg": message})


async def test_a_resting_limit_maker_is_accepted(http: aiohttp.ClientSession) -> None:
    async with served() as (state, _, url):
        status, body = await refusal(http, url, quantity="0.01", price="41000", type="LIMIT_MAKER")
        assert status == 200 and body["status"] == "NEW"
        assert len(state.paper.open_orders(BTC)) == 1


async def test_max_num_orders(http: aiohttp.ClientSession) -> None:
    import msgspec

    specs = [msgspec.structs.replace(s, max_num_orders=2) for s in DEFAULT_MARKETS]
    async with served(specs=specs) as (_, _ex, url):
        answers = [await refusal(http, url, quantity="0.001", price=p) for p in ("41000", "40900")]
        third = await refusal(http, url, quantity="0.001", price="40800")

    assert [a[0] for a in answers] == [200, 200]
    assert third == (400, {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDERS"})


async def test_a_halted_symbol_refuses_orders_and_says_so(http: aiohttp.ClientSession) -> None:
    async with served() as (_, _ex, url):
        async with http.post(f"{url}/admin/config", json={"status": {BTC: "HALT"}}) as r:
            assert (await r.json())["status"][BTC] == "HALT"
        refused = await refusal(http, url, quantity="0.001", price="41000")
        async with http.get(f"{url}/api/v3/exchangeInfo") as r:
            info = await r.json()

    assert refused == (400, {"code": -2010, "msg": "Market is closed."})
    status = {s["symbol"]: s["status"] for s in info["symbols"]}
    assert status["BTCUSDT"] == "HALT" and status["ETHUSDT"] == "TRADING"
    filters = {f["filterType"] for f in info["symbols"][0]["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "PERCENT_PRICE_BY_SIDE",
            "MAX_NUM_ORDERS"} <= filters  # fmt: skip


async def used_weight(http: aiohttp.ClientSession, url: str, path: str) -> int:
    async with http.get(f"{url}{path}") as r:
        return int(r.headers["X-MBX-USED-WEIGHT-1M"])


async def test_every_answer_carries_the_weight_used(http: aiohttp.ClientSession) -> None:
    # time_scale 1000: a 1000-minute window, so no window boundary falls inside the test
    async with served(time_scale=1000) as (_, _ex, url):
        client = Client(http, url, KEY, SECRET)
        before = await used_weight(http, url, "/api/v3/ping")
        figures = [await used_weight(http, url, p) for p in (
            "/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/ticker/24hr?symbol=BTCUSDT",
            "/api/v3/ticker/24hr", "/api/v3/klines?symbol=BTCUSDT&interval=1m",
        )]  # fmt: skip
        await client.call("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
        await client.call("GET", "/api/v3/openOrders")
        await client.call("GET", "/api/v3/account")
        after = await used_weight(http, url, "/api/v3/ping")

    steps = [b - a for a, b in zip([before, *figures], figures, strict=False)]
    assert steps == [1, 20, 2, 80, 2]
    assert after - figures[-1] == 6 + 80 + 20 + 1


async def test_past_the_limit_429_then_418_bans_that_grow(http: aiohttp.ClientSession) -> None:
    # A 100-minute window (no boundary inside the test), bans of 0.5 s then 1 s.
    options = {"weight_limit": 30, "time_scale": 100, "ban_ladder": (0.005, 0.01)}
    async with served(**options) as (state, _, url):
        state.limiter.log.clear()
        first = await get_status(http, url, "/api/v3/exchangeInfo")  # used 20 + connect's 20
        again = await get_status(http, url, "/api/v3/ping")  # before Retry-After: banned
        during = await get_status(http, url, "/api/v3/ping")
        ban_end = state.limiter.banned_until
        await aeventually(lambda: _after(state, ban_end), timeout=5, interval=0.05)
        back = await get_status(http, url, "/api/v3/ping")  # still over the limit: 429
        second_ban = await get_status(http, url, "/api/v3/ping")
        async with http.get(f"{url}/admin/request_log") as r:
            log = await r.json()

    assert first[0] == 429 and int(first[1]) >= 1
    assert again[0] == 418 and during[0] == 418
    assert back[0] == 429 and second_ban[0] == 418
    assert log["bans"] == 2
    statuses = [(r["path"], r["status"], r["weight"]) for r in log["requests"]]
    assert statuses == [
        ("/api/v3/exchangeInfo", 429, 20),
        ("/api/v3/ping", 418, 1),
        ("/api/v3/ping", 418, 1),
        ("/api/v3/ping", 429, 1),
        ("/api/v3/ping", 418, 1),
    ]
    # The second ban is the ladder's next rung: twice the first.
    first_ban_ms = ban_end - log["requests"][1]["time_ms"]
    assert log["banned_until"] - log["requests"][4]["time_ms"] == 2 * first_ban_ms


async def _after(state: LoopbackState, when: int) -> bool:
    return state.clock() >= when


async def get_status(http: aiohttp.ClientSession, url: str, path: str) -> tuple[int, str]:
    async with http.get(f"{url}{path}") as r:
        return r.status, r.headers.get("Retry-After", "")


async def test_a_clock_offset_makes_signed_requests_fail_with_1021(
    http: aiohttp.ClientSession,
) -> None:
    async with served(clock_offset_ms=-5000) as (state, _, url):
        refused = await Client(http, url, KEY, SECRET).call("GET", "/api/v3/account")
        state.clock_offset_ms = 0
        accepted = await Client(http, url, KEY, SECRET).call("GET", "/api/v3/account")

    ahead = "Timestamp for this request was 1000ms ahead of the server's time."
    assert refused == (400, {"code": -1021, "msg": ahead})
    assert accepted[0] == 200
