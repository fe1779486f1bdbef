"""Paper snapshots, version 2 (msgpack, orders and trades as arrays) against version 1
(the JSON of earlier releases, which a database may still hold): both restore the same
account, version 1 still reads, and version 2 is much smaller."""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

import msgspec
import pytest
from paper_support import ETH, MARKET, SYMBOL, D, paper

from gridsup.exchange.errors import DuplicateOrder, OrderNotFound
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.snapshot import _OrderRow, _TradeRow, encode_v1
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

BUY, SELL, LIMIT = Side.BUY, Side.SELL, OrderType.LIMIT

# snapshot() of small_busy() as written by gridsup at commit 9ba5545 (version 1).
V1_SMALL_BUSY = (
    b'{"version":1,"markets":[{"symbol":"BTC/USDT","base":"BTC","quote":"USDT","price_step":"0'
    b'.01","amount_step":"0.0001","min_amount":"0.0001","min_notional":"5","maker_fee":"0.001"'
    b',"taker_fee":"0.002"},{"symbol":"ETH/USDT","base":"ETH","quote":"USDT","price_step":"0.0'
    b'1","amount_step":null,"min_amount":null,"min_notional":null,"maker_fee":"0.001","taker_f'
    b'ee":"0.001"}],"free":{"BTC":"0.5000","ETH":"1.5","USDT":"9928.523450000"},"used":{"BTC":'
    b'"0.6000","ETH":"0.0","USDT":"95.54545000"},"orders":[{"id":"P1","seq":1,"client_order_id'
    b'":"b0","symbol":"BTC/USDT","side":"buy","type":"limit","price":"95","amount":"0.5","time'
    b'stamp":0,"locked":"28.5285000","status":"open","filled":"0.2000","cost":"19.0000","fee":'
    b'"0.0190000","fee_currency":"USDT"},{"id":"P2","seq":2,"client_order_id":"b1","symbol":"B'
    b'TC/USDT","side":"buy","type":"limit","price":"96.5","amount":"0.5","timestamp":0,"locked'
    b'":"28.97895000","status":"open","filled":"0.2000","cost":"19.30000","fee":"0.01930000","'
    b'fee_currency":"USDT"},{"id":"P3","seq":3,"client_order_id":"b2","symbol":"BTC/USDT","sid'
    b'e":"sell","type":"limit","price":"105","amount":"0.5","timestamp":0,"locked":"0.3000","s'
    b'tatus":"open","filled":"0.2000","cost":"21.0000","fee":"0.0210000","fee_currency":"USDT"'
    b'},{"id":"P4","seq":4,"client_order_id":"b3","symbol":"BTC/USDT","side":"sell","type":"li'
    b'mit","price":"104.25","amount":"0.5","timestamp":0,"locked":"0.3000","status":"open","fi'
    b'lled":"0.2000","cost":"20.850000","fee":"0.020850000","fee_currency":"USDT"},{"id":"P6",'
    b'"seq":6,"client_order_id":"e1","symbol":"ETH/USDT","side":"buy","type":"limit","price":"'
    b'19","amount":"2","timestamp":0,"locked":"38.038","status":"open","filled":"0","cost":"0"'
    b',"fee":"0","fee_currency":"USDT"},{"id":"P9","seq":9,"client_order_id":"c1","symbol":"BT'
    b'C/USDT","side":"buy","type":"limit","price":"91","amount":"0.1","timestamp":11,"locked":'
    b'"0","status":"canceled","filled":"0","cost":"0","fee":"0","fee_currency":"USDT"},{"id":"'
    b'P10","seq":10,"client_order_id":"c2","symbol":"BTC/USDT","side":"buy","type":"limit","pr'
    b'ice":"92","amount":"0.1","timestamp":11,"locked":"0","status":"canceled","filled":"0","c'
    b'ost":"0","fee":"0","fee_currency":"USDT"},{"id":"P11","seq":11,"client_order_id":"c3","s'
    b'ymbol":"BTC/USDT","side":"buy","type":"limit","price":"93","amount":"0.1","timestamp":11'
    b',"locked":"0","status":"canceled","filled":"0","cost":"0","fee":"0","fee_currency":"USDT'
    b'"}],"trades":[{"id":"P1","order_id":"P2","client_order_id":"b1","symbol":"BTC/USDT","sid'
    b'e":"buy","price":"96.5","amount":"0.2000","fee":"0.01930000","fee_currency":"USDT","time'
    b'stamp":10,"taker":false},{"id":"P2","order_id":"P1","client_order_id":"b0","symbol":"BTC'
    b'/USDT","side":"buy","price":"95","amount":"0.2000","fee":"0.0190000","fee_currency":"USD'
    b'T","timestamp":10,"taker":false},{"id":"P3","order_id":"P4","client_order_id":"b3","symb'
    b'ol":"BTC/USDT","side":"sell","price":"104.25","amount":"0.2000","fee":"0.020850000","fee'
    b'_currency":"USDT","timestamp":10,"taker":false},{"id":"P4","order_id":"P3","client_order'
    b'_id":"b2","symbol":"BTC/USDT","side":"sell","price":"105","amount":"0.2000","fee":"0.021'
    b'0000","fee_currency":"USDT","timestamp":10,"taker":false},{"id":"P5","order_id":"P5","cl'
    b'ient_order_id":null,"symbol":"ETH/USDT","side":"sell","price":"20.5","amount":"1.5","fee'
    b'":"0.03075","fee_currency":"USDT","timestamp":11,"taker":false},{"id":"P6","order_id":"P'
    b'7","client_order_id":"m1","symbol":"BTC/USDT","side":"buy","price":"101","amount":"0.1",'
    b'"fee":"0.0202","fee_currency":"USDT","timestamp":11,"taker":true}],"next_order":12,"next'
    b'_trade":7,"last_prices":{"BTC/USDT":"101","ETH/USDT":"21"},"last_timestamp":11,"partial_'
    b'fills":true,"volume_share":"0.1","id_prefix":"P","max_history":3,"finished":["P9","P10",'
    b'"P11"],"retired_client_ids":["m1","c0"]}'
)


def small_busy() -> PaperExchange:
    """Two markets, partial fills, a market order, cancels, forgotten orders."""
    ex = PaperExchange(
        {SYMBOL: MARKET, ETH.symbol: ETH},
        {"USDT": D("10000"), "BTC": D("1"), "ETH": D("3")},
        partial_fills=True,
        id_prefix="P",
        max_history=3,
    )
    for i, (side, price) in enumerate(
        [(BUY, "95"), (BUY, "96.5"), (SELL, "105"), (SELL, "104.25")]
    ):
        ex.create_order(SYMBOL, side, LIMIT, D("0.5"), D(price), f"b{i}")
    ex.create_order(ETH.symbol, SELL, LIMIT, D("1.5"), D("20.5"), None)
    ex.create_order(ETH.symbol, BUY, LIMIT, D("2"), D("19"), "e1")
    ex.on_candle(SYMBOL, 10, D("100"), D("106"), D("94"), D("101"), D("2"))
    ex.on_price(ETH.symbol, D("21"), 11)
    ex.create_order(SYMBOL, BUY, OrderType.MARKET, D("0.1"), None, "m1")
    for i in range(4):
        order = ex.create_order(SYMBOL, BUY, LIMIT, D("0.1"), D(90 + i), f"c{i}")
        ex.cancel_order(order.id)
    return ex


def ladder_markets(count: int) -> dict[str, MarketInfo]:
    return {
        f"C{k}/USDT": MarketInfo(
            symbol=f"C{k}/USDT",
            base=f"C{k}",
            quote="USDT",
            price_step=D("0.01"),
            amount_step=D("0.00001"),
            min_amount=D("0.00001"),
            min_notional=D("5"),
        )
        for k in range(count)
    }


def ladders(grids: int = 100, levels: int = 12, history: int | None = 1000) -> PaperExchange:
    """``grids`` grids of ``levels`` open limit orders each over 10 markets, with grid-like
    client ids (100 x 12 = the 1,200 open orders of a full dry-run fleet)."""
    markets = ladder_markets(10)
    balances = {"USDT": D(10**9)} | {m.base: D(10**6) for m in markets.values()}
    ex = PaperExchange(markets, balances, partial_fills=True, max_history=history)
    symbols = list(markets)
    for g in range(grids):
        centre = D(60_000 + 137 * g)
        for i in range(levels):
            side = BUY if i < levels // 2 else SELL
            price = (centre * (1 + (i - levels // 2) * D("0.0075"))).quantize(D("0.01"))
            client_id = f"g{g:03d}-{i:02d}-{1_712_345_678_901 + g}"
            ex.create_order(symbols[g % 10], side, LIMIT, D("0.00123"), price, client_id)
    return ex


def busy() -> PaperExchange:
    """Ladders that traded: partial and complete fills, counter orders, cancels, and
    more finished orders and trades than max_history keeps."""
    ex = ladders(grids=20, levels=6, history=15)
    for ts, symbol in enumerate(ex.markets, start=1):
        bid = ex.best_bid_order_price(symbol)
        assert bid is not None
        low = D(str(bid)) - D("1000")
        ex.on_candle(symbol, ts, low + 1500, low + 1600, low, low + 100, D("0.001"))  # partial
        for trade in ex.on_price(symbol, low, 100 + ts):  # the rest of every bid reached
            order = ex.fetch_order(trade.order_id)
            if order.status is OrderStatus.CLOSED:
                ex.create_order(symbol, SELL, LIMIT, order.filled, trade.price + 50, f"x{order.id}")
    for order in ex.open_orders()[::7]:
        ex.cancel_order(order.id)
    return ex


def assert_same_account(a: PaperExchange, b: PaperExchange) -> None:
    assert a.snapshot() == b.snapshot()
    assert a.open_orders() == b.open_orders()  # creation order
    assert a.trades() == b.trades()
    assert a.balance() == b.balance()
    ha, hb = a._history, b._history
    assert ha.orders == hb.orders
    assert list(ha.orders) == list(hb.orders)
    assert ha.by_client == hb.by_client
    assert ha.trades_by_order == hb.trades_by_order
    assert (ha.finished, list(ha.retired)) == (hb.finished, list(hb.retired))
    assert (a._next_order, ha.next_trade, a.max_history) == (
        b._next_order,
        hb.next_trade,
        b.max_history,
    )
    for symbol in a.markets:
        assert a.best_bid_order_price(symbol) == b.best_bid_order_price(symbol)
        assert a.best_ask_order_price(symbol) == b.best_ask_order_price(symbol)
        assert a.last_price(symbol) == b.last_price(symbol)


def trade_on(ex: PaperExchange) -> PaperExchange:
    """The same moves on any account: fills (partial and full), a refused client id."""
    next_trade = ex._history.next_trade
    for ts, symbol in enumerate(ex.markets, start=1000):
        ask = ex.best_ask_order_price(symbol)
        if ask is not None:
            top = D(str(ask)) + D("2000")
            ex.on_candle(symbol, ts, top - 1500, top, top - 1600, top - 100, D("0.002"))
    with pytest.raises(DuplicateOrder):  # a client id used before, whatever became of it
        ex.create_order("C0/USDT", BUY, LIMIT, D("0.001"), D("100"), "g000-00-1712345678901")
    assert ex._history.next_trade > next_trade  # it traded
    return ex


def test_the_v1_encoder_here_writes_what_the_previous_release_wrote() -> None:
    assert encode_v1(small_busy()._parts()) == V1_SMALL_BUSY


def test_a_v1_snapshot_of_the_previous_release_restores_the_same_account() -> None:
    restored = PaperExchange.restore(V1_SMALL_BUSY)

    assert_same_account(restored, small_busy())
    assert restored.fetch_order(client_order_id="b1").filled == D("0.2000")
    with pytest.raises(OrderNotFound, match="forgotten"):
        restored.fetch_order(client_order_id="m1")


def test_v2_round_trip_equals_the_v1_round_trip_on_a_busy_account() -> None:
    ex = busy()
    assert len(ex.markets) > 1 and len(ex.open_orders()) > 50
    assert ex._history.finished and ex._history.retired and len(ex.trades()) > 15
    assert any(o.filled and o.status is OrderStatus.OPEN for o in ex._history.orders.values())

    from_v2 = PaperExchange.restore(ex.snapshot())
    from_v1 = PaperExchange.restore(encode_v1(ex._parts()))

    assert_same_account(from_v2, ex)
    assert_same_account(from_v1, ex)
    assert_same_account(trade_on(from_v2), trade_on(from_v1))
    assert_same_account(from_v2, trade_on(ex))


def test_decimals_round_trip_exactly_as_strings() -> None:
    ex = paper()
    order_id = ex.create_order(SYMBOL, BUY, LIMIT, D("0.1000"), D("95.10"), "c").id
    ex.on_price(SYMBOL, D("95.100"), 5)

    data = ex.snapshot()
    raw = msgspec.msgpack.decode(data)
    restored = PaperExchange.restore(data)

    order = raw["orders"][0]
    assert order[6:8] == ["95.10", "0.1000"]  # price and amount, as written
    assert not any(isinstance(v, float) for row in raw["orders"] + raw["trades"] for v in row)
    (trade,) = restored.order_trades(order_id)
    assert (str(trade.price), str(trade.amount), str(trade.fee)) == (
        "95.10",
        "0.1000",
        "0.009510000",
    )
    assert restored.fetch_order(order_id) == ex.fetch_order(order_id)


def test_v2_is_at_least_40_percent_smaller_than_v1_for_1200_open_orders() -> None:
    ex = ladders()
    assert len(ex.open_orders()) == 1200

    v1, v2 = encode_v1(ex._parts()), ex.snapshot()

    assert len(v2) <= 0.6 * len(v1), (len(v1), len(v2))
    assert_same_account(PaperExchange.restore(v2), PaperExchange.restore(v1))


def test_v1_snapshots_without_the_history_fields_still_restore() -> None:
    ex = paper()
    old = encode_v1(ex._parts()).replace(
        b',"max_history":null,"finished":[],"retired_client_ids":[]', b""
    )
    assert b"max_history" not in old

    assert PaperExchange.restore(old).snapshot() == ex.snapshot()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (msgspec.msgpack.encode({"version": 7, "orders": []}), r"version 7 \(msgpack\)"),
        (msgspec.msgpack.encode({"version": 1}), r"version 1 \(msgpack\)"),
        (b'{"version":7,"orders":[]}', r"version 7 \(JSON\)"),
        (b'{"version":2}', r"version 2 \(JSON\)"),
    ],
)
def test_restore_refuses_an_unknown_version(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match="unknown paper snapshot " + message):
        PaperExchange.restore(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x93\x01\x02\x03",  # a msgpack array
        msgspec.msgpack.encode({"version": 2}),  # the right version, nothing else
        msgspec.msgpack.encode({"version": "2"}),
        b'{"version":1}',
        b"[1, 2]",
    ],
)
def test_restore_refuses_garbage(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a paper exchange snapshot"):
        PaperExchange.restore(data)


def test_snapshot_rows_follow_the_struct_fields() -> None:
    ex = small_busy()
    raw = msgspec.msgpack.decode(ex.snapshot())
    order, trade = next(iter(ex._history.orders.values())), ex.trades()[0]

    assert raw["orders"][0] == msgspec.msgpack.decode(
        msgspec.msgpack.encode(msgspec.structs.astuple(order))
    )
    assert len(raw["trades"][0]) == len(trade.__struct_fields__) == len(get_args(_TradeRow))
    assert len(get_args(_OrderRow)) == len(order.__struct_fields__)
    assert isinstance(Decimal(raw["trades"][0][5]), Decimal)
