"""CcxtExchange with the real ccxt ``binance`` client against the loopback exchange."""

from __future__ import annotations

import decimal
import logging
from decimal import Decimal

import pytest
import structlog

from gridsup.exchange.base import Exchange
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.errors import (
    AuthenticationError,
    BadSymbol,
    BelowMinimum,
    DuplicateOrder,
    ExchangeError,
    InsufficientFunds,
    OrderNotFound,
)
from gridsup.exchange.loopback import LoopbackServer
from gridsup.messages.common import OrderStatus, OrderType, Side

D = Decimal
BTC = "BTC/USDT"


async def test_is_an_exchange_and_loads_real_filters(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    # connect() made exactly one request: no sapi/futures/currency calls
    assert dict(loopback.state.requests) == {"GET /api/v3/exchangeInfo": 1}

    markets = await exchange.load_markets()

    assert isinstance(exchange, Exchange)
    assert set(markets) == {"BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"}
    btc = markets[BTC]
    assert (btc.price_step, btc.amount_step) == (D("0.01"), D("0.00001"))
    assert (btc.min_amount, btc.min_notional) == (D("0.00001"), D("5"))
    # BNBUSDT is served with the legacy MIN_NOTIONAL filter: ccxt reads both shapes.
    assert markets["BNB/USDT"].min_notional == D("5")


async def test_full_grid_cycle(exchange: CcxtExchange, loopback: LoopbackServer) -> None:
    # Arrange: a 3-level grid around 42000: buy at 41500, sell at 42500.
    buy = await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.01"), D("41500"), "g1b1")
    sell = await exchange.create_order(
        BTC, Side.SELL, OrderType.LIMIT, D("0.01"), D("42500"), "g1s2"
    )
    assert {o.client_order_id for o in await exchange.fetch_open_orders(BTC)} == {"g1b1", "g1s2"}
    balance = await exchange.fetch_balance()
    assert balance.used["USDT"] == D("415")  # the cost locked: the fee comes out of the BTC
    assert balance.used["BTC"] == D("0.01")

    # Act: the price falls through the buy; its counter sell goes one level up.
    loopback.state.set_price(BTC, D("41400"))
    filled = await exchange.fetch_order(BTC, client_order_id="g1b1")
    counter = await exchange.create_order(
        BTC, Side.SELL, OrderType.LIMIT, filled.filled, D("42000"), "g1s1"
    )
    loopback.state.set_price(BTC, D("42600"))  # rises through both sells

    # Assert: every order settled at its limit, fees in the asset received (Binance),
    # balances add up.
    assert filled.status is OrderStatus.CLOSED and filled.filled == D("0.01")
    assert (await exchange.fetch_order(BTC, order_id=counter.id)).status is OrderStatus.CLOSED
    assert (await exchange.fetch_order(BTC, order_id=sell.id)).status is OrderStatus.CLOSED
    assert await exchange.fetch_open_orders() == []
    trades = await exchange.fetch_my_trades(BTC)
    assert [(t.order_id, t.side, t.price, t.amount) for t in trades] == [
        (buy.id, Side.BUY, D("41500"), D("0.01")),
        (counter.id, Side.SELL, D("42000"), D("0.01")),
        (sell.id, Side.SELL, D("42500"), D("0.01")),
    ]
    assert [(t.fee, t.fee_currency) for t in trades] == [
        (D("0.00001"), "BTC"),  # the buy: 0.1 % of the 0.01 BTC received
        (D("0.42"), "USDT"),  # the sells: 0.1 % of the USDT received
        (D("0.425"), "USDT"),
    ]
    final = await exchange.fetch_balance()
    received = (D("420") + D("425")) * D("0.999")
    assert final.total("USDT") == D("10000") - D("415") + received
    assert final.total("BTC") == D("0.5") + D("0.01") - D("0.00001") - D("0.02")
    assert final.used.get("USDT", D(0)) == 0


async def test_market_order_fills_at_last_price(exchange: CcxtExchange) -> None:
    order = await exchange.create_order(BTC, Side.SELL, OrderType.MARKET, D("0.001"))

    assert order.status is OrderStatus.CLOSED
    assert order.price is None and order.average == D("42000")
    assert order.fee == D("42") * D("0.001")


async def test_precision_rounding_on_real_filters(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    order = await exchange.create_order(
        BTC, Side.BUY, OrderType.LIMIT, D("0.0012345678"), D("41000.006"), "round1"
    )

    assert (order.amount, order.price) == (D("0.00123"), D("41000.01"))
    accepted = loopback.state.accepted[-1]
    assert (accepted.amount, accepted.price) == (D("0.00123"), D("41000.01"))


@pytest.mark.parametrize(
    ("amount", "price", "minimum"),
    [
        (D("0.0001"), D("41000"), "minimum notional 5"),  # 4.1 USDT
        (D("0.000109"), D("45000"), "minimum notional 5"),  # rounds to 0.00010: 4.5 USDT
        (D("0.000009"), D("41000"), "minimum amount 0.00001"),  # rounds to zero on the lot
    ],
)
async def test_below_minimum_is_refused_before_sending(
    exchange: CcxtExchange, loopback: LoopbackServer, amount: D, price: D, minimum: str
) -> None:
    sent_before = loopback.state.requests["POST /api/v3/order"]

    with pytest.raises(BelowMinimum, match=minimum):
        await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, amount, price, "small1")

    assert loopback.state.requests["POST /api/v3/order"] == sent_before
    assert loopback.state.accepted == []


async def test_batch_fetches_use_one_request(
    exchange: CcxtExchange, loopback: LoopbackServer
) -> None:
    await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("40000"), "b1")
    await exchange.create_order("ETH/USDT", Side.SELL, OrderType.LIMIT, D("0.1"), D("2600"), "b2")
    before = dict(loopback.state.requests)

    tickers = await exchange.fetch_tickers()
    orders = await exchange.fetch_open_orders()

    assert {s: t.last for s, t in tickers.items()} == {BTC: D("42000"), "ETH/USDT": D("2500")}
    assert {o.client_order_id for o in orders} == {"b1", "b2"}
    after = loopback.state.requests
    assert after["GET /api/v3/ticker/24hr"] - before.get("GET /api/v3/ticker/24hr", 0) == 1
    assert after["GET /api/v3/openOrders"] - before.get("GET /api/v3/openOrders", 0) == 1


async def test_cancel_and_lookups(exchange: CcxtExchange) -> None:
    order = await exchange.create_order(
        BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("40000"), "c1"
    )

    canceled = await exchange.cancel_order(order.id, BTC)

    assert canceled.status is OrderStatus.CANCELED
    assert canceled.client_order_id == "c1"
    assert (await exchange.fetch_balance()).used.get("USDT", D(0)) == 0
    with pytest.raises(OrderNotFound):
        await exchange.cancel_order(order.id, BTC)
    with pytest.raises(OrderNotFound):
        await exchange.fetch_order(BTC, client_order_id="never-sent")


@pytest.mark.parametrize(
    ("symbol", "side", "amount", "price", "error"),
    [
        ("XRP/USDT", Side.BUY, D("1"), D("1"), BadSymbol),
        (BTC, Side.BUY, D("1"), D("41000"), InsufficientFunds),  # 41000 USDT > 10000
        (BTC, Side.SELL, D("5"), D("43000"), InsufficientFunds),  # 5 BTC > 0.5
    ],
)
async def test_refusals_map_to_our_errors(
    exchange: CcxtExchange,
    symbol: str,
    side: Side,
    amount: D,
    price: D,
    error: type[ExchangeError],
) -> None:
    with pytest.raises(error):
        await exchange.create_order(symbol, side, OrderType.LIMIT, amount, price, "r1")


async def test_duplicate_client_id_is_refused(exchange: CcxtExchange) -> None:
    await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("40000"), "dup1")

    with pytest.raises(DuplicateOrder):
        await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.001"), D("40000"), "dup1")


async def test_ohlcv_from_the_price_history(exchange: CcxtExchange) -> None:
    candles = await exchange.fetch_ohlcv(BTC, "1m", limit=5)

    assert candles and candles[-1].close == D("42000")


@pytest.mark.parametrize(
    ("key", "secret"),
    [("good", "wrong-secret"), ("unknown-key", "good"), (None, None)],
)
async def test_refused_keys_raise_authentication_error(
    loopback: LoopbackServer, credentials: tuple[str, str], key: str | None, secret: str | None
) -> None:
    key = credentials[0] if key == "good" else key
    secret = credentials[1] if secret == "good" else secret
    ex = CcxtExchange(
        "binance",
        api_key=key,
        secret=secret,
        url_overrides=loopback.url_overrides(),
        rate_limit_ms=1,
    )
    try:
        with pytest.raises(AuthenticationError):
            await ex.fetch_balance()
    finally:
        await ex.close()


async def test_secrets_never_in_repr_or_logs(
    loopback: LoopbackServer, credentials: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    api_key, api_secret = credentials
    caplog.set_level(logging.DEBUG)
    ex = CcxtExchange.from_env(
        "binance",
        "GRIDSUP_TEST_KEY",
        "GRIDSUP_TEST_SECRET",
        environ={"GRIDSUP_TEST_KEY": api_key, "GRIDSUP_TEST_SECRET": api_secret},
        url_overrides=loopback.url_overrides(),
    )
    try:
        with structlog.testing.capture_logs() as events:
            await ex.fetch_balance()
            with pytest.raises(OrderNotFound) as raised:
                await ex.fetch_order(BTC, client_order_id="nope")
    finally:
        await ex.close()

    assert "ccxt.base.exchange" in {r.name for r in caplog.records}  # ccxt did log
    text = caplog.text + repr(events) + repr(ex) + str(raised.value)
    assert api_secret not in text
    assert api_key not in text
    assert "keys=set" in repr(ex)


def test_from_env_names_the_missing_variable_not_a_value() -> None:
    with pytest.raises(AuthenticationError, match="GRIDSUP_MISSING_SECRET") as raised:
        CcxtExchange.from_env(
            "binance", "K", "GRIDSUP_MISSING_SECRET", environ={"K": "some-key-value"}
        )

    assert "some-key-value" not in str(raised.value)


def test_unknown_exchange_id() -> None:
    with pytest.raises(ExchangeError, match="nosuchexchange"):
        CcxtExchange("nosuchexchange")


async def test_ccxt_does_not_change_our_decimal_context(exchange: CcxtExchange) -> None:
    context = decimal.getcontext()
    before = (context.rounding, context.traps[decimal.Underflow], context.prec)

    await exchange.create_order(BTC, Side.BUY, OrderType.LIMIT, D("0.0012345"), D("40000.005"))

    context = decimal.getcontext()
    assert (context.rounding, context.traps[decimal.Underflow], context.prec) == before


async def test_sandbox_flag_with_url_overrides(
    loopback: LoopbackServer, credentials: tuple[str, str]
) -> None:
    ex = CcxtExchange(
        "binance",
        api_key=credentials[0],
        secret=credentials[1],
        sandbox=True,
        url_overrides=loopback.url_overrides(),
        rate_limit_ms=1,
    )
    try:
        balance = await ex.fetch_balance()
    finally:
        await ex.close()

    assert "sandbox=True" in repr(ex)
    assert balance.free["BTC"] == D("0.5")
