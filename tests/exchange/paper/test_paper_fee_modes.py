"""One paper account, orders of two fee rules: an order placed with its own
``fee_mode`` (the loopback's Kraken dialect: every fee in quote) is charged by it,
beside the account's rule (Binance, OKX, Bybit: the asset received); the rule of an
open order survives a snapshot, and only open orders are remembered."""

from __future__ import annotations

from paper_support import SYMBOL, D, paper

from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.fees import FeeMode, FeePolicy
from gridsup.exchange.paper.snapshot import decode
from gridsup.messages.common import OrderStatus, OrderType, Side

RECEIVED = FeePolicy(mode=FeeMode.RECEIVED)


def test_a_quote_order_on_a_received_account_pays_quote_beside_a_received_one() -> None:
    ex = paper(fees=RECEIVED)
    ex.on_price(SYMBOL, D("40000"), 1)
    ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"))
    ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"), fee_mode=FeeMode.QUOTE)
    # the quote-fee buy locks its fee too (maker 0.1 %): 3900 + 3900 * 1.001
    assert ex.balance().used["USDT"] == D("3900") + D("3903.9")

    buys = ex.on_price(SYMBOL, D("39000"), 2)
    sell = ex.create_order(
        SYMBOL, Side.SELL, OrderType.LIMIT, D("0.1"), D("41000"), fee_mode=FeeMode.QUOTE
    )
    sold = ex.on_price(SYMBOL, D("41000"), 3)

    assert [(t.fee, t.fee_currency) for t in buys + sold] == [
        (D("0.0001"), "BTC"),
        (D("3.9"), "USDT"),
        (D("4.1"), "USDT"),
    ]
    assert ex.fetch_order(sell.id).fee_currency == "USDT"
    bal = ex.balance()
    assert bal.used == {"BTC": D(0), "USDT": D(0)}
    assert bal.total("BTC") == D("1") + D("0.2") - D("0.0001") - D("0.1")
    assert bal.total("USDT") == D("10000") - D("7800") - D("3.9") + D("4100") - D("4.1")


def test_a_received_order_on_a_quote_account_pays_in_the_asset_received() -> None:
    ex = paper()  # the lenient account: every fee in quote
    ex.on_price(SYMBOL, D("40000"), 1)
    ex.create_order(
        SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"), fee_mode=FeeMode.RECEIVED
    )

    (trade,) = ex.on_price(SYMBOL, D("39000"), 2)

    assert (trade.fee, trade.fee_currency) == (D("0.0001"), "BTC")
    assert ex.balance().total("USDT") == D("10000") - D("3900")


def test_the_rule_of_an_open_order_survives_a_snapshot_and_ends_with_the_order() -> None:
    ex = paper(fees=RECEIVED)
    ex.on_price(SYMBOL, D("40000"), 1)
    ex.fill_cap = D("0.04")
    partial = ex.create_order(
        SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("39000"), fee_mode=FeeMode.QUOTE
    )
    canceled = ex.create_order(
        SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("30000"), fee_mode=FeeMode.QUOTE
    )
    first = ex.on_price(SYMBOL, D("39000"), 2)

    back = PaperExchange.restore(ex.snapshot())
    back.fill_cap = None
    rest = back.on_price(SYMBOL, D("38900"), 3)
    back.cancel_order(canceled.id)

    assert [t.fee_currency for t in first + rest] == ["USDT", "USDT"]
    assert sum(t.fee for t in first + rest) == D("3.9")
    assert back.fetch_order(partial.id).status is OrderStatus.CLOSED
    assert back.balance().total("USDT") == D("10000") - D("3900") - D("3.9")
    assert decode(back.snapshot()).order_fee_modes == {}  # only open orders are kept
