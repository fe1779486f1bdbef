"""The paper engine's parts on their own: a new order's admission (``rules.admit``), a
candle's walk (``match.walk_candle``), the per-order fee rule (``fees.charge_rule``) and
the fund moves of one fill (``balances.PaperBalances``). PaperExchange's own tests
(test_paper*.py) prove them together."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from paper_support import MARKET, SYMBOL, D

from gridsup.exchange.errors import InvalidOrder, OrderWouldTake
from gridsup.exchange.paper.balances import PaperBalances
from gridsup.exchange.paper.book import Book, PaperOrder
from gridsup.exchange.paper.fees import FeeMode, FeePolicy, charge_rule
from gridsup.exchange.paper.history import History
from gridsup.exchange.paper.match import walk_candle
from gridsup.exchange.paper.rules import Admission, admit
from gridsup.exchange.types import candle_path
from gridsup.messages.common import OrderType, Side

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET_ORDER = OrderType.LIMIT, OrderType.MARKET
FREE = msgspec.structs.replace(MARKET, maker_fee=D(0), taker_fee=D(0))  # no fees


def order(side: Side, amount: str, price: str, seq: int = 1) -> PaperOrder:
    """An open limit order with its funds locked at its price (no fee)."""
    locked = D(amount) * D(price) if side is BUY else D(amount)
    return PaperOrder(
        id=str(seq),
        seq=seq,
        client_order_id=None,
        symbol=SYMBOL,
        side=side,
        type=LIMIT,
        price=D(price),
        amount=D(amount),
        timestamp=0,
        locked=locked,
    )


def admitted(
    side: Side,
    type_: OrderType,
    price: str | None,
    last: str | None,
    post_only: bool = True,
    taker_on_cross: bool = False,
) -> Admission:
    """``rules.admit`` of an order of 0.1 on MARKET, prices as text."""
    return admit(
        MARKET,
        side,
        type_,
        D("0.1"),
        None if price is None else D(price),
        None if last is None else D(last),
        post_only=post_only,
        taker_on_cross=taker_on_cross,
    )


# (side, type, price, last, post_only, taker_on_cross) -> Admission
ADMITTED = [
    (BUY, LIMIT, "99", "100", False, False, Admission(D(99), D(99), False)),
    (BUY, LIMIT, "101", "100", False, False, Admission(D(101), D(101), False)),  # rests
    (BUY, LIMIT, "101", "100", False, True, Admission(D(101), D(101), True)),
    (SELL, LIMIT, "99", "100", False, True, Admission(D(99), D(99), True)),
    (SELL, LIMIT, "101", "100", True, True, Admission(D(101), D(101), False)),
    (BUY, LIMIT, "101", None, True, True, Admission(D(101), D(101), False)),  # no price yet
    (BUY, MARKET_ORDER, None, "100", False, False, Admission(None, D(100), True)),
    (SELL, MARKET_ORDER, "5", "100", True, False, Admission(None, D(100), True)),
]


@pytest.mark.parametrize(
    ("side", "type_", "price", "last", "post_only", "taker_on_cross", "expected"), ADMITTED
)
def test_admit(
    side: Side,
    type_: OrderType,
    price: str | None,
    last: str | None,
    post_only: bool,
    taker_on_cross: bool,
    expected: Admission,
) -> None:
    assert admitted(side, type_, price, last, post_only, taker_on_cross) == expected


@pytest.mark.parametrize(
    ("side", "type_", "price", "last", "error", "fragment"),
    [
        (BUY, MARKET_ORDER, None, None, InvalidOrder, "no price known yet for BTC/USDT"),
        (BUY, LIMIT, None, "100", InvalidOrder, "needs a price"),
        (BUY, LIMIT, "100", "100", OrderWouldTake, "crosses the last price 100"),
        (SELL, LIMIT, "99", "100", OrderWouldTake, "sell limit 99"),
    ],
)
def test_admit_refuses(
    side: Side,
    type_: OrderType,
    price: str | None,
    last: str | None,
    error: type[Exception],
    fragment: str,
) -> None:
    with pytest.raises(error, match=fragment):
        admitted(side, type_, price, last)  # post-only


def walked(
    o: str, h: str, lo: str, c: str, cap: Decimal | None = None
) -> tuple[list[tuple[Side, Decimal, Decimal]], Book]:
    """(side, price, amount) of the trades one candle makes of a buy at 95 and a sell at
    105, each of 0.5."""
    book, history = Book(), History(None, "")
    balances = PaperBalances({"USDT": D(0), "BTC": D(0)}, {"USDT": D("47.5"), "BTC": D("0.5")})
    for resting in (order(BUY, "0.5", "95", 1), order(SELL, "0.5", "105", 2)):
        history.add(resting)
        book.add(resting)
    path = candle_path(D(o), D(h), D(lo), D(c))
    trades = walk_candle(balances, history, FREE, book, path, 60_000, cap)
    return [(t.side, t.price, t.amount) for t in trades], book


@pytest.mark.parametrize(
    ("candle", "first"),
    [
        (("100", "106", "94", "104"), BUY),  # up: open -> low -> high -> close
        (("100", "106", "94", "96"), SELL),  # down: open -> high -> low -> close
    ],
)
def test_a_candle_fills_in_path_order(candle: tuple[str, str, str, str], first: Side) -> None:
    trades, book = walked(*candle)

    assert [side for side, _, _ in trades] == [first, SELL if first is BUY else BUY]
    assert {price for _, price, _ in trades} == {D(95), D(105)}  # at the limits
    assert book.count() == 0


def test_a_candle_that_reaches_nothing_fills_nothing() -> None:
    trades, book = walked("100", "104", "96", "101")

    assert (trades, book.count()) == ([], 2)


def test_the_cap_holds_for_the_whole_candle() -> None:
    # the buy at 95 is reached at the open and again at the low: it fills once
    trades, book = walked("95", "106", "94", "100", cap=D("0.2"))

    assert trades == [(BUY, D(95), D("0.2")), (SELL, D(105), D("0.2"))]
    assert book.count() == 2  # both partly filled, still open


def test_fees_in_quote_need_no_rule() -> None:
    assert charge_rule(FeePolicy(), {}, {SYMBOL: MARKET}, {}, lambda _: None) is None


def test_an_order_with_its_own_fee_mode_is_charged_by_it_until_its_last_fill() -> None:
    policy = FeePolicy(mode=FeeMode.RECEIVED)
    quoted, received = order(BUY, "0.5", "95", 1), order(BUY, "0.5", "95", 2)
    modes = {quoted.id: FeeMode.QUOTE}
    charge = charge_rule(policy, modes, {SYMBOL: MARKET}, {}, lambda _: None)
    assert charge is not None

    partial = charge(quoted, D("0.2"), D(95), False)
    quoted.filled = D("0.2")
    last = charge(quoted, D("0.3"), D(95), False)
    other = charge(received, D("0.5"), D(95), False)

    assert (partial, last) == (None, None)  # in quote, by PaperBalances.settle's rule
    assert modes == {}  # its last fill: only open orders are kept
    assert other == (D("0.0005"), "BTC")  # in the asset received, maker fee 0.001


# side -> (free USDT, free BTC), (used USDT, used BTC), what the order still locks
SETTLED = {
    BUY: (("0", "0.2"), ("28.481", "0"), "28.481"),
    SELL: (("18.981", "0"), ("0", "0.3"), "0.3"),
}


@pytest.mark.parametrize("side", [BUY, SELL])
def test_settle_moves_one_fills_funds_and_returns_the_fee(side: Side) -> None:
    resting = order(side, "0.5", "95")
    start = (D("47.5"), D(0)) if side is BUY else (D(0), D("0.5"))
    balances = PaperBalances({"USDT": D(0), "BTC": D(0)}, {"USDT": start[0], "BTC": start[1]})

    paid = balances.settle(MARKET, resting, D("0.2"), D(95), D("0.001"))

    (free_usdt, free_btc), (used_usdt, used_btc), locked = SETTLED[side]
    assert paid == D("0.019")  # in quote
    assert balances.free == {"USDT": D(free_usdt), "BTC": D(free_btc)}
    assert balances.used == {"USDT": D(used_usdt), "BTC": D(used_btc)}
    assert resting.locked == D(locked)


def test_settle_received_takes_the_fee_from_what_the_fill_credits() -> None:
    resting = order(BUY, "0.5", "95")
    balances = PaperBalances({"USDT": D(0), "BTC": D(0)}, {"USDT": D("47.5"), "BTC": D(0)})

    balances.settle_received(MARKET, resting, D("0.2"), D(95), D("0.0002"), "BTC")

    assert balances.free == {"USDT": D(0), "BTC": D("0.1998")}
    assert balances.used == {"USDT": D("28.5"), "BTC": D(0)}
