"""The paper engine's Binance rules (options; the lenient rules stay the default):
commissions in the asset received or in BNB, a crossing limit order filled at once as
taker, post-only refusal, a fill split in several trades, a fill capped per price, and
a snapshot that keeps all of it. docs/paper.md, "Binance's rules"."""

from __future__ import annotations

import pytest
from paper_support import MARKET, SYMBOL, D

from gridsup.exchange.errors import OrderWouldTake
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.fees import FeeMode, FeePolicy
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

BNB = MarketInfo(symbol="BNB/USDT", base="BNB", quote="USDT", price_step=D("0.01"))
RECEIVED = FeePolicy(mode=FeeMode.RECEIVED)


def account(bnb: str = "0", **kwargs: object) -> PaperExchange:
    ex = PaperExchange(
        {SYMBOL: MARKET, "BNB/USDT": BNB},
        {"USDT": D("10000"), "BTC": D("1"), "BNB": D(bnb)},
        **kwargs,  # type: ignore[arg-type]
    )
    ex.on_price(SYMBOL, D("40000"), 1)
    ex.on_price("BNB/USDT", D("500"), 1)
    return ex


def test_received_mode_charges_a_buy_in_base_and_a_sell_in_quote() -> None:
    ex = account(fees=RECEIVED)
    ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"))
    ex.create_order(SYMBOL, Side.SELL, OrderType.LIMIT, D("0.1"), D("41000"))
    assert ex.balance().used["USDT"] == D("3900")  # no fee locked

    buy = ex.on_price(SYMBOL, D("39000"), 2)
    sell = ex.on_price(SYMBOL, D("41000"), 3)

    assert [(t.fee, t.fee_currency) for t in buy + sell] == [
        (D("0.0001"), "BTC"),
        (D("4.1"), "USDT"),
    ]
    bal = ex.balance()
    assert bal.total("BTC") == D("1") + D("0.1") - D("0.0001") - D("0.1")
    assert bal.total("USDT") == D("10000") - D("3900") + D("4100") - D("4.1")


def test_bnb_fees_at_a_quarter_off_priced_at_bnb_usdt() -> None:
    ex = account(bnb="1", fees=FeePolicy(mode=FeeMode.RECEIVED, bnb_fees=True))
    ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"))

    (trade,) = ex.on_price(SYMBOL, D("39000"), 2)

    # 3900 * 0.1 % * 0.75 = 2.925 USDT = 0.00585 BNB at 500
    assert (trade.fee, trade.fee_currency) == (D("0.00585"), "BNB")
    assert ex.balance().total("BNB") == D("1") - D("0.00585")
    assert ex.balance().total("BTC") == D("1.1")


def test_a_crossing_limit_order_is_a_taker_fill_at_the_last_price() -> None:
    ex = account(fees=RECEIVED, taker_on_cross=True)

    order = ex.create_order(SYMBOL, Side.SELL, OrderType.LIMIT, D("0.1"), D("39000"))

    (trade,) = ex.order_trades(order.id)
    assert order.status is OrderStatus.CLOSED
    assert (trade.price, trade.taker, trade.fee) == (D("40000"), True, D("8"))  # taker 0.2 %
    assert ex.balance().total("USDT") == D("10000") + D("4000") - D("8")


def test_without_taker_on_cross_a_crossing_order_rests_as_before() -> None:
    ex = account()

    order = ex.create_order(SYMBOL, Side.SELL, OrderType.LIMIT, D("0.1"), D("39000"))

    assert order.status is OrderStatus.OPEN


def test_post_only_refuses_an_order_that_would_take() -> None:
    ex = account(taker_on_cross=True)

    with pytest.raises(OrderWouldTake):
        ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("40000"), post_only=True)
    resting = ex.create_order(
        SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39999"), post_only=True
    )

    assert resting.status is OrderStatus.OPEN
    assert ex.balance().free["USDT"] == D("10000") - D("3999.9") * D("1.001")


def test_fill_pieces_and_fill_cap_give_several_trades_and_a_partial() -> None:
    ex = account(fees=RECEIVED, fill_pieces=2)
    ex.fill_cap = D("0.06")
    order = ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"))

    first = ex.on_price(SYMBOL, D("39000"), 2)
    rest = ex.on_price(SYMBOL, D("38900"), 3)

    assert [t.amount for t in first] == [D("0.03"), D("0.03")]
    assert [t.amount for t in rest] == [D("0.02"), D("0.02")]
    assert len({t.id for t in first + rest}) == 4
    assert ex.fetch_order(order.id).status is OrderStatus.CLOSED
    assert ex.balance().total("BTC") == D("1.1") - D("0.0001")


def test_a_snapshot_keeps_the_rules_and_older_ones_restore_lenient() -> None:
    ex = account(
        fees=FeePolicy(mode=FeeMode.RECEIVED, bnb_fees=True), taker_on_cross=True, fill_pieces=3
    )

    back = PaperExchange.restore(ex.snapshot())

    assert back.fees == ex.fees and back.taker_on_cross and back.fill_pieces == 3
    assert PaperExchange.restore(account().snapshot()).fees.mode is FeeMode.QUOTE
