"""PaperExchange, rule by rule: validation, locking, touch fills at the limit price,
the intra-candle path, fees, partial fills, cancels, look-ups and snapshots."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from paper_support import ETH, MARKET, SYMBOL, D, candle, holdings, limit, paper

from gridsup.exchange.errors import (
    BadSymbol,
    BelowMinimum,
    DuplicateOrder,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.common import OrderStatus, OrderType, Side

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET_ORDER = OrderType.LIMIT, OrderType.MARKET

# (symbol, side, type, amount, price, error, fragment of the message)
REFUSALS = [
    ("ETH/BTC", BUY, LIMIT, "0.01", "100", BadSymbol, "no market 'ETH/BTC'"),
    (SYMBOL, BUY, LIMIT, "0", "100", InvalidOrder, "amount must be positive"),
    (SYMBOL, BUY, LIMIT, "-0.1", "100", InvalidOrder, "amount must be positive"),
    (SYMBOL, BUY, LIMIT, "NaN", "100", InvalidOrder, "amount must be positive"),
    (SYMBOL, BUY, LIMIT, "0.1", "0", InvalidOrder, "price must be positive"),
    (SYMBOL, BUY, LIMIT, "0.1", "-5", InvalidOrder, "price must be positive"),
    (SYMBOL, BUY, LIMIT, "0.1", "Infinity", InvalidOrder, "price must be positive"),
    (SYMBOL, BUY, LIMIT, "0.10001", "100", InvalidOrder, "lot size 0.0001"),
    (SYMBOL, BUY, LIMIT, "0.1", "100.001", InvalidOrder, "tick size 0.01"),
    (SYMBOL, BUY, LIMIT, "0.1", None, InvalidOrder, "needs a price"),
    (SYMBOL, BUY, MARKET_ORDER, "0.1", None, InvalidOrder, "no price known yet"),
    (SYMBOL, BUY, LIMIT, "0.04", "100", BelowMinimum, "minimum notional 5 of BTC/USDT"),
    (SYMBOL, SELL, LIMIT, "0.04", "100", BelowMinimum, "minimum notional 5"),
    (SYMBOL, BUY, LIMIT, "100", "100.01", InsufficientFunds, "needs 10011.00100 USDT, free 10000"),
    (SYMBOL, SELL, LIMIT, "1.0001", "100", InsufficientFunds, "needs 1.0001 BTC, free 1"),
]


@pytest.mark.parametrize(
    ("symbol", "side", "type_", "amount", "price", "error", "fragment"), REFUSALS
)
def test_refused_orders_name_the_rule_and_change_nothing(
    symbol: str,
    side: Side,
    type_: OrderType,
    amount: str,
    price: str | None,
    error: type[ExchangeError],
    fragment: str,
) -> None:
    ex = paper()
    before = ex.snapshot()

    with pytest.raises(error) as info:
        ex.create_order(symbol, side, type_, D(amount), D(price) if price else None, "c1")

    assert fragment in str(info.value)
    assert ex.snapshot() == before


def test_below_minimum_amount_names_the_minimum() -> None:
    ex = paper(markets={SYMBOL: msgspec.structs.replace(MARKET, min_amount=D("0.001"))})

    with pytest.raises(BelowMinimum, match=r"below the minimum amount 0\.001 of BTC/USDT"):
        limit(ex, BUY, "0.0005", "50000")


@pytest.mark.parametrize(
    "finish",
    ["open", "cancelled", "filled"],
)
def test_a_client_id_is_never_reused(finish: str) -> None:
    ex = paper()
    order_id = limit(ex, BUY, "0.1", "100", "grid1")
    if finish == "cancelled":
        ex.cancel_order(order_id)
    elif finish == "filled":
        ex.on_price(SYMBOL, D("99"), 1)

    with pytest.raises(DuplicateOrder, match="grid1"):
        limit(ex, BUY, "0.1", "90", "grid1")


def test_a_refused_order_does_not_consume_its_client_id() -> None:
    ex = paper(usdt="5")
    with pytest.raises(InsufficientFunds):
        limit(ex, BUY, "0.1", "100", "grid1")

    ex2 = paper()
    order_id = limit(ex2, BUY, "0.1", "100", "grid1")

    assert ex2.fetch_order(client_order_id="grid1").id == order_id


@pytest.mark.parametrize(
    ("side", "amount", "price", "asset", "locked"),
    [
        (BUY, "0.1", "100", "USDT", D("10.01")),  # cost + maker fee, locked up front
        (SELL, "0.25", "100", "BTC", D("0.25")),
    ],
)
def test_orders_lock_funds_and_cancel_releases_them(
    side: Side, amount: str, price: str, asset: str, locked: Decimal
) -> None:
    ex = paper()
    total = holdings(ex, asset)

    order_id = limit(ex, side, amount, price)

    assert ex.balance().used[asset] == locked
    assert ex.balance().free[asset] == total - locked
    cancelled = ex.cancel_order(order_id, SYMBOL)
    assert cancelled.status is OrderStatus.CANCELED
    assert ex.balance().used[asset] == 0
    assert ex.balance().free[asset] == total
    assert ex.open_orders() == []


# (side, limit, traded price, fills?)
TOUCHES = [
    (BUY, "100", "100.01", False),
    (BUY, "100", "100", True),  # touching the limit fills it
    (BUY, "100", "90", True),
    (SELL, "100", "99.99", False),
    (SELL, "100", "100", True),
    (SELL, "100", "120", True),
]


@pytest.mark.parametrize(("side", "price", "traded", "fills"), TOUCHES)
def test_on_price_fills_when_the_market_reaches_the_limit(
    side: Side, price: str, traded: str, fills: bool
) -> None:
    ex = paper()
    order_id = limit(ex, side, "0.1", price, "o1")

    trades = ex.on_price(SYMBOL, D(traded), 1_000)

    assert bool(trades) == fills
    order = ex.fetch_order(order_id)
    assert order.status is (OrderStatus.CLOSED if fills else OrderStatus.OPEN)
    if fills:
        (trade,) = trades
        assert trade.price == D(price)  # at the limit, never at the traded price
        assert (trade.amount, trade.timestamp, trade.taker) == (D("0.1"), 1_000, False)
        assert (trade.order_id, trade.client_order_id) == (order_id, "o1")
        assert order.filled == D("0.1")
        assert order.average == D(price)


def test_buy_and_sell_fees_are_in_quote() -> None:
    ex = paper(usdt="1000", btc="0")
    limit(ex, BUY, "0.5", "100")

    (buy,) = ex.on_price(SYMBOL, D("100"), 1)

    assert buy.fee == D("0.05") and buy.fee_currency == "USDT"
    assert holdings(ex, "USDT") == D("1000") - D("50") - D("0.05")
    assert holdings(ex, "BTC") == D("0.5")
    limit(ex, SELL, "0.5", "110")
    (sell,) = ex.on_price(SYMBOL, D("111"), 2)
    assert sell.fee == D("0.055")
    assert holdings(ex, "USDT") == D("949.95") + D("55") - D("0.055")
    assert holdings(ex, "BTC") == 0
    assert ex.balance().used == {"BTC": 0, "USDT": 0}


# (open, high, low, close, expected sides of the fills in order)
PATHS = [
    ("100", "110", "90", "108", [BUY, SELL]),  # up: open -> low -> high -> close
    ("100", "110", "90", "100", [BUY, SELL]),  # doji counts as up
    ("100", "110", "90", "92", [SELL, BUY]),  # down: open -> high -> low -> close
    ("100", "104", "96", "101", []),  # reaches neither 95 nor 105
    ("100", "105", "96", "101", [SELL]),
    ("100", "104", "95", "99", [BUY]),
]


@pytest.mark.parametrize(("o", "h", "lo", "c", "sides"), PATHS)
def test_on_candle_walks_the_intra_candle_path(
    o: str, h: str, lo: str, c: str, sides: list[Side]
) -> None:
    ex = paper()
    limit(ex, BUY, "0.1", "95")
    limit(ex, SELL, "0.1", "105")

    trades = candle(ex, o, h, lo, c, ts=60_000)

    assert [t.side for t in trades] == sides
    assert all(t.timestamp == 60_000 for t in trades)
    assert ex.last_price(SYMBOL) == D(c)


def test_a_limit_the_market_is_already_past_rests_then_fills_first_at_its_price() -> None:
    ex = paper()
    ex.on_price(SYMBOL, D("100"), 1)
    buy = limit(ex, BUY, "0.1", "95")
    sell = limit(ex, SELL, "0.1", "98")  # below the market: not filled on placement

    assert ex.fetch_order(sell).status is OrderStatus.OPEN
    trades = candle(ex, "100", "110", "90", "105")  # up: the open already reaches the sell

    assert [(t.order_id, t.price) for t in trades] == [(sell, D("98")), (buy, D("95"))]


def test_falling_path_fills_highest_buys_first_oldest_first_within_a_level() -> None:
    ex = paper()
    a = limit(ex, BUY, "0.1", "95")
    b = limit(ex, BUY, "0.1", "97")
    c = limit(ex, BUY, "0.1", "95")
    limit(ex, BUY, "0.1", "80")

    trades = candle(ex, "100", "101", "90", "91")

    assert [t.order_id for t in trades] == [b, a, c]
    assert [t.id for t in trades] == ["1", "2", "3"]
    assert ex.best_bid_order_price(SYMBOL) == 80.0


def test_rising_path_fills_lowest_sells_first() -> None:
    ex = paper()
    a = limit(ex, SELL, "0.1", "106")
    b = limit(ex, SELL, "0.1", "103")

    trades = candle(ex, "100", "110", "99", "109")

    assert [t.order_id for t in trades] == [b, a]


def test_market_orders_fill_at_the_last_price_with_taker_fee() -> None:
    ex = paper(usdt="1000", btc="0")
    candle(ex, "100", "101", "99", "100.5", ts=5)

    order = ex.create_order(SYMBOL, BUY, MARKET_ORDER, D("1"), client_order_id="m1")

    assert order.status is OrderStatus.CLOSED
    assert (order.filled, order.average, order.fee) == (D("1"), D("100.5"), D("0.201"))
    (trade,) = ex.trades(SYMBOL)
    assert (trade.price, trade.taker, trade.timestamp) == (D("100.5"), True, 5)
    assert holdings(ex, "USDT") == D("1000") - D("100.5") - D("0.201")
    assert ex.balance().used["USDT"] == 0
    sold = ex.create_order(SYMBOL, SELL, MARKET_ORDER, D("1"))
    assert sold.status is OrderStatus.CLOSED
    assert holdings(ex, "BTC") == 0


def test_partial_fills_are_bounded_by_volume_share_per_candle() -> None:
    ex = paper(partial_fills=True, volume_share=D("0.1"))
    order_id = limit(ex, BUY, "0.25", "95")

    first = candle(ex, "100", "101", "90", "92", v="1.00005")  # cap 0.100005 -> 0.1 lot
    second = candle(ex, "92", "96", "91", "95", v="1")
    quiet = candle(ex, "95", "99", "94", "98", v="0")  # no volume, no fill
    third = candle(ex, "95", "99", "94", "98", v="5")

    assert [t.amount for t in first + second + quiet + third] == [D("0.1"), D("0.1"), D("0.05")]
    order = ex.fetch_order(order_id)
    assert (order.filled, order.status) == (D("0.25"), OrderStatus.CLOSED)
    assert ex.balance().used["USDT"] == 0


def test_partial_fill_touches_an_order_once_per_candle() -> None:
    ex = paper(partial_fills=True)
    limit(ex, BUY, "1", "95")

    # Down candle whose close is back below the buy: the path reaches 95 twice.
    trades = candle(ex, "100", "101", "90", "94", v="2")

    assert [t.amount for t in trades] == [D("0.2")]


def test_cancel_after_partial_fill_keeps_the_fill_and_frees_the_rest() -> None:
    ex = paper(usdt="1000", btc="0", partial_fills=True)
    order_id = limit(ex, BUY, "1", "100")
    candle(ex, "101", "102", "99", "100", v="3")  # fills 0.3

    order = ex.cancel_order(order_id)

    assert (order.status, order.filled) == (OrderStatus.CANCELED, D("0.3"))
    assert ex.balance().used["USDT"] == 0
    assert holdings(ex, "USDT") == D("1000") - D("30") - D("0.03")
    assert holdings(ex, "BTC") == D("0.3")


@pytest.mark.parametrize(
    ("order_id", "symbol", "fragment"),
    [
        ("999", None, "no order 999"),
        ("1", "ETH/USDT", "no order 1 in ETH/USDT"),
        ("2", None, "closed"),
    ],
)
def test_cancel_refuses_unknown_foreign_and_final_orders(
    order_id: str, symbol: str | None, fragment: str
) -> None:
    ex = paper(markets={SYMBOL: MARKET, "ETH/USDT": ETH})
    limit(ex, BUY, "0.1", "100")
    limit(ex, BUY, "0.1", "101")
    ex.on_price(SYMBOL, D("100.5"), 1)

    with pytest.raises(OrderNotFound, match=fragment):
        ex.cancel_order(order_id, symbol)


def test_fetch_order_by_id_or_client_id() -> None:
    ex = paper()
    order_id = limit(ex, SELL, "0.1", "200", "abc")

    assert ex.fetch_order(order_id) == ex.fetch_order(client_order_id="abc")
    with pytest.raises(OrderNotFound):
        ex.fetch_order(client_order_id="nope")
    with pytest.raises(OrderNotFound):
        ex.fetch_order("42")
    with pytest.raises(OrderNotFound):
        ex.fetch_order(order_id, client_order_id="other")
    with pytest.raises(ValueError, match="needs order_id or client_order_id"):
        ex.fetch_order()


def test_open_orders_per_symbol_oldest_first_and_best_prices() -> None:
    ex = paper(markets={SYMBOL: MARKET, "ETH/USDT": ETH}, usdt="100000")
    assert ex.best_bid_order_price(SYMBOL) is None
    assert ex.best_ask_order_price(SYMBOL) is None
    ids = [
        limit(ex, BUY, "0.1", "90"),
        ex.create_order("ETH/USDT", BUY, LIMIT, D("1"), D("10")).id,
        limit(ex, SELL, "0.1", "120"),
        limit(ex, BUY, "0.1", "95.5"),
        limit(ex, SELL, "0.1", "110.25"),
    ]

    assert [o.id for o in ex.open_orders()] == ids
    assert [o.id for o in ex.open_orders(SYMBOL)] == [ids[0], ids[2], ids[3], ids[4]]
    assert ex.best_bid_order_price(SYMBOL) == 95.5
    assert ex.best_ask_order_price(SYMBOL) == 110.25
    ex.cancel_order(ids[3])
    ex.on_price(SYMBOL, D("111"), 1)
    assert ex.best_bid_order_price(SYMBOL) == 90.0
    assert ex.best_ask_order_price(SYMBOL) == 120.0
    assert ex.best_bid_order_price("ETH/USDT") == 10.0


def test_order_trades_lists_the_fills_of_one_order() -> None:
    ex = paper(partial_fills=True)
    a = limit(ex, BUY, "0.3", "95")
    b = limit(ex, BUY, "0.3", "94")
    candle(ex, "100", "101", "93", "99", v="1", ts=1)
    candle(ex, "99", "100", "94", "99", v="2", ts=2)

    assert [(t.amount, t.timestamp) for t in ex.order_trades(a)] == [(D("0.1"), 1), (D("0.2"), 2)]
    assert [t.order_id for t in ex.order_trades(b)] == [b, b]
    assert ex.order_trades("nope") == []
    restored = PaperExchange.restore(ex.snapshot())
    assert restored.order_trades(a) == ex.order_trades(a)


def test_trades_filter_by_symbol_and_since() -> None:
    ex = paper(markets={SYMBOL: MARKET, "ETH/USDT": ETH}, usdt="100000")
    limit(ex, BUY, "0.1", "100")
    limit(ex, BUY, "0.1", "90")
    ex.create_order("ETH/USDT", BUY, LIMIT, D("1"), D("10"))
    ex.on_price(SYMBOL, D("100"), 1_000)
    ex.on_price("ETH/USDT", D("10"), 1_500)
    ex.on_price(SYMBOL, D("90"), 2_000)

    assert [t.timestamp for t in ex.trades()] == [1_000, 1_500, 2_000]
    assert [t.timestamp for t in ex.trades(SYMBOL)] == [1_000, 2_000]
    assert [t.timestamp for t in ex.trades(SYMBOL, since=1_001)] == [2_000]


def test_ids_are_deterministic_counters_with_prefix() -> None:
    ex = paper(id_prefix="P")
    assert limit(ex, BUY, "0.1", "100") == "P1"
    assert limit(ex, BUY, "0.1", "99") == "P2"
    assert [t.id for t in ex.on_price(SYMBOL, D("98"), 1)] == ["P1", "P2"]


def test_time_comes_from_the_clock_or_the_last_price() -> None:
    now = [123]
    clocked = paper(clock=lambda: now[0])
    unclocked = paper()
    unclocked.on_price(SYMBOL, D("100"), 777)

    assert clocked.create_order(SYMBOL, BUY, LIMIT, D("0.1"), D("90")).timestamp == 123
    assert unclocked.create_order(SYMBOL, BUY, LIMIT, D("0.1"), D("90")).timestamp == 777


def test_feeding_or_asking_about_an_unknown_symbol_is_refused() -> None:
    ex = paper()
    for ask in (ex.open_orders, ex.best_bid_order_price, ex.best_ask_order_price):
        with pytest.raises(BadSymbol, match="DOGE/USDT"):
            ask("DOGE/USDT")
    with pytest.raises(BadSymbol):
        ex.on_price("DOGE/USDT", D("1"), 1)
    with pytest.raises(BadSymbol):
        candle_args = (1, D(1), D(1), D(1), D(1), D(1))
        ex.on_candle("DOGE/USDT", *candle_args)


@pytest.mark.parametrize(
    ("balances", "share", "history", "fragment"),
    [
        ({"USDT": D("-1")}, D("0.1"), None, "negative"),
        ({}, D("0"), None, "volume_share"),
        ({}, D("1.5"), None, "volume_share"),
        ({}, D("0.1"), 0, "max_history"),
    ],
)
def test_bad_construction_is_refused(
    balances: dict[str, Decimal], share: Decimal, history: int | None, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        PaperExchange({SYMBOL: MARKET}, balances, volume_share=share, max_history=history)


def test_snapshot_restore_continues_the_same_account() -> None:
    ex = paper(partial_fills=True, id_prefix="X")
    limit(ex, BUY, "0.5", "95", "b1")
    limit(ex, SELL, "0.3", "105", "s1")
    candle(ex, "100", "106", "94", "101", v="2", ts=10)
    limit(ex, BUY, "0.1", "96", "b2")

    restored = PaperExchange.restore(ex.snapshot())

    assert restored.snapshot() == ex.snapshot()
    assert restored.open_orders() == ex.open_orders()
    assert restored.balance() == ex.balance()
    assert restored.best_bid_order_price(SYMBOL) == ex.best_bid_order_price(SYMBOL)
    for account in (ex, restored):
        candle(account, "101", "107", "90", "92", v="10", ts=20)
        with pytest.raises(DuplicateOrder):
            limit(account, BUY, "0.1", "90", "b1")
        limit(account, BUY, "0.1", "80", "b3")
    assert restored.snapshot() == ex.snapshot()


def test_max_history_forgets_old_finished_orders_but_refuses_their_client_ids() -> None:
    ex = paper(max_history=2)
    ids = [limit(ex, BUY, "0.1", str(90 + i), f"c{i}") for i in range(4)]
    for order_id in ids[:3]:
        ex.cancel_order(order_id)

    with pytest.raises(OrderNotFound):
        ex.fetch_order(ids[0])
    with pytest.raises(OrderNotFound, match="forgotten"):
        ex.fetch_order(client_order_id="c0")
    with pytest.raises(DuplicateOrder):
        limit(ex, BUY, "0.1", "80", "c0")
    assert [ex.fetch_order(i).status for i in ids[1:]] == [
        OrderStatus.CANCELED,
        OrderStatus.CANCELED,
        OrderStatus.OPEN,  # open orders are never forgotten
    ]
    restored = PaperExchange.restore(ex.snapshot())
    assert restored.snapshot() == ex.snapshot()
    with pytest.raises(DuplicateOrder):
        limit(restored, BUY, "0.1", "80", "c0")
    # What the account remembers, oldest first, and what it forgot (the audit's view).
    assert [o.id for o in restored.orders()] == ids[1:]
    assert [o.status for o in restored.orders()] == [ex.fetch_order(i).status for i in ids[1:]]
    assert restored.retired_client_ids() == ["c0"]


def test_max_history_bounds_the_trades_kept() -> None:
    ex = paper(max_history=5, usdt="100000")
    for i in range(40):
        limit(ex, BUY, "0.1", "100")
        ex.on_price(SYMBOL, D("100"), i)

    kept = ex.trades()
    assert 5 <= len(kept) <= 10
    assert kept[-1].timestamp == 39
    assert all(ex.order_trades(t.order_id) == [t] for t in kept)


@pytest.mark.parametrize("data", [b"", b"{}", b'{"version": 99}', b"\x00garbage"])
def test_restore_refuses_what_is_not_a_snapshot(data: bytes) -> None:
    with pytest.raises(ValueError, match="snapshot"):
        PaperExchange.restore(data)
