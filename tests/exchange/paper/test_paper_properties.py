"""PaperExchange properties over random order flows and price paths (hypothesis),
and a grid ladder over real Binance candles.

After every step: no balance is negative, locked funds equal what the open
orders hold, every asset's total moved exactly by the trades (fees included),
fills happen only at prices the market reached and then completely (or up to
the volume cap), and a snapshot restores the same account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paper_support import MARKET, SYMBOL, D

from gridsup.exchange.candles import decimal_price, load_candles
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from helpers import shared_data

# No minimum notional here, so that most random orders are accepted.
FREE_MARKET = msgspec.structs.replace(MARKET, min_notional=None)
START = {"USDT": D("2000"), "BTC": D("5")}

prices = st.integers(9_000, 11_000).map(lambda n: D(n).scaleb(-2))  # 90.00 .. 110.00
amounts = st.integers(1, 3_000).map(lambda n: D(n).scaleb(-4))  # 0.0001 .. 0.3
sides = st.sampled_from([Side.BUY, Side.SELL])
histories = st.sampled_from([None, None, 1, 3])  # max_history: keep all, or a tight bound


@st.composite
def candles(draw: st.DrawFn) -> tuple[str, Decimal, Decimal, Decimal, Decimal, Decimal]:
    o, c = draw(prices), draw(prices)
    below = D(draw(st.integers(0, 300))).scaleb(-2)
    above = D(draw(st.integers(0, 300))).scaleb(-2)
    volume = D(draw(st.integers(0, 50))).scaleb(-1)
    return ("candle", o, max(o, c) + above, min(o, c) - below, c, volume)


operations = st.one_of(
    st.tuples(st.just("limit"), sides, amounts, prices),
    st.tuples(st.just("market"), sides, amounts),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("price"), prices),
    st.tuples(st.just("restore")),
    candles(),
)


@dataclass
class ExpectedTotals:
    """What the totals must be, from the trades alone."""

    quote: Decimal = START["USDT"]
    base: Decimal = START["BTC"]
    ids: list[str] = field(default_factory=list)
    limits: dict[str, Decimal] = field(default_factory=dict)  # order id -> limit price

    def book(self, trades: list[Trade]) -> None:
        for t in trades:
            cost = t.amount * t.price
            if t.side is Side.BUY:
                self.quote -= cost + t.fee
                self.base += t.amount
            else:
                self.quote += cost - t.fee
                self.base -= t.amount


def check_account(ex: PaperExchange, expected: ExpectedTotals) -> None:
    balance = ex.balance()
    assert all(v >= 0 for v in balance.free.values()), balance
    assert all(v >= 0 for v in balance.used.values()), balance
    open_orders = ex.open_orders()
    locked_quote = sum(
        (
            o.remaining * o.price * (1 + FREE_MARKET.maker_fee)
            for o in open_orders
            if o.side is Side.BUY and o.price is not None
        ),
        D(0),
    )
    locked_base = sum((o.remaining for o in open_orders if o.side is Side.SELL), D(0))
    assert balance.used["USDT"] == locked_quote
    assert balance.used["BTC"] == locked_base
    assert balance.total("USDT") == expected.quote
    assert balance.total("BTC") == expected.base
    for o in open_orders:
        assert 0 <= o.filled < o.amount and o.status is OrderStatus.OPEN


def check_candle_fills(
    ex: PaperExchange,
    expected: ExpectedTotals,
    trades: list[Trade],
    low: Decimal,
    high: Decimal,
    cap: Decimal | None,
) -> None:
    per_order: dict[str, Decimal] = defaultdict(Decimal)
    for t in trades:
        assert t.price == expected.limits[t.order_id] and not t.taker  # at the limit, maker
        assert t.price >= low if t.side is Side.BUY else t.price <= high
        per_order[t.order_id] += t.amount
    if cap is not None:
        assert all(amount <= cap for amount in per_order.values())
        return
    # Without a volume cap, every order the candle reached is filled completely.
    bid, ask = ex.best_bid_order_price(SYMBOL), ex.best_ask_order_price(SYMBOL)
    assert bid is None or D(str(bid)) < low
    assert ask is None or D(str(ask)) > high


def apply(
    ex: PaperExchange, op: tuple[object, ...], expected: ExpectedTotals, ts: int
) -> PaperExchange:
    before = ex.snapshot()
    match op:
        case ("limit", Side() as side, Decimal() as amount, Decimal() as price):
            try:
                order_id = ex.create_order(SYMBOL, side, OrderType.LIMIT, amount, price).id
                expected.ids.append(order_id)
                expected.limits[order_id] = price
            except ExchangeError:
                assert ex.snapshot() == before  # a refusal changes nothing
        case ("market", Side() as side, Decimal() as amount):
            try:
                order = ex.create_order(SYMBOL, side, OrderType.MARKET, amount)
            except ExchangeError:
                assert ex.snapshot() == before
                return ex
            assert order.status is OrderStatus.CLOSED
            (trade,) = ex.order_trades(order.id)
            assert trade.taker and trade.price == ex.last_price(SYMBOL)
            expected.book([trade])
        case ("cancel", int() as index) if expected.ids:
            order_id = expected.ids[index % len(expected.ids)]
            try:
                ex.cancel_order(order_id)
            except ExchangeError:
                assert order_id not in {o.id for o in ex.open_orders()}
        case ("price", Decimal() as price):
            trades = ex.on_price(SYMBOL, price, ts)
            expected.book(trades)
            check_candle_fills(ex, expected, trades, price, price, None)
        case ("candle", Decimal() as o, Decimal() as h, Decimal() as lo, Decimal() as c, v):
            assert isinstance(v, Decimal)
            trades = ex.on_candle(SYMBOL, ts, o, h, lo, c, v)
            expected.book(trades)
            cap = (v * ex.volume_share // D("0.0001")) * D("0.0001") if ex.partial_fills else None
            check_candle_fills(ex, expected, trades, lo, h, cap)
        case ("restore",):
            data = ex.snapshot()
            ex = PaperExchange.restore(data)
            assert ex.snapshot() == data
    return ex


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operations, max_size=40), partial=st.booleans(), history=histories)
def test_random_flows_keep_the_account_consistent(
    ops: list[tuple[object, ...]], partial: bool, history: int | None
) -> None:
    ex = PaperExchange({SYMBOL: FREE_MARKET}, START, partial_fills=partial, max_history=history)
    expected = ExpectedTotals()
    for ts, op in enumerate(ops, start=1):
        ex = apply(ex, op, expected, ts * 60_000)
        check_account(ex, expected)
        if history is not None:  # bounded memory: invariant 8
            assert len(ex.trades()) <= 2 * history
            finished = [i for i in expected.ids if i not in {o.id for o in ex.open_orders()}]
            kept = [i for i in finished if _known(ex, i)]
            assert len(kept) <= history


def _known(ex: PaperExchange, order_id: str) -> bool:
    try:
        ex.fetch_order(order_id)
    except ExchangeError:
        return False
    return True


@settings(max_examples=50, deadline=None)
@given(
    ops=st.lists(operations, max_size=30),
    cut=st.integers(0, 30),
    partial=st.booleans(),
    history=histories,
)
def test_restored_account_behaves_identically(
    ops: list[tuple[object, ...]], cut: int, partial: bool, history: int | None
) -> None:
    original = PaperExchange(
        {SYMBOL: FREE_MARKET}, START, partial_fills=partial, max_history=history
    )
    expected = ExpectedTotals()
    for ts, op in enumerate(ops[:cut], start=1):
        original = apply(original, op, expected, ts)
    twin = PaperExchange.restore(original.snapshot())
    twin_expected = ExpectedTotals(
        expected.quote, expected.base, list(expected.ids), dict(expected.limits)
    )

    for ts, op in enumerate(ops[cut:], start=cut + 1):
        original = apply(original, op, expected, ts)
        twin = apply(twin, op, twin_expected, ts)

    assert twin.snapshot() == original.snapshot()


@pytest.mark.parametrize("partial", [False, True])
def test_grid_ladder_over_real_candles(partial: bool) -> None:
    frame = load_candles(shared_data("binance_SOL-USDT_1m.csv.gz"))
    market = msgspec.structs.replace(
        FREE_MARKET, symbol="SOL/USDT", base="SOL", price_step=D("0.01"), amount_step=D("0.001")
    )
    ex = PaperExchange({"SOL/USDT": market}, {"USDT": D("10000")}, partial_fills=partial)
    expected = ExpectedTotals(quote=D("10000"), base=D(0))
    levels = [D(p) for p in range(140, 175, 2)]
    first = decimal_price(frame["open"].iloc[0])
    for i, level in enumerate(levels[:-1]):
        if level < first:
            ex.create_order("SOL/USDT", Side.BUY, OrderType.LIMIT, D("1"), level, f"b{i}")
    rows = frame.itertuples(index=False)
    for ts, o, h, lo, c, v in rows:
        args = [decimal_price(x) for x in (o, h, lo, c, v)]
        for trade in ex.on_candle("SOL/USDT", int(ts), *args):
            expected.book([trade])
            assert lo <= float(trade.price) <= h
            order = ex.fetch_order(trade.order_id)
            if order.status is not OrderStatus.CLOSED:
                continue
            # Closed: place the counter order one level away, for what was filled.
            level = levels.index(trade.price)
            side, price = (
                (Side.SELL, levels[level + 1])
                if trade.side is Side.BUY
                else (Side.BUY, levels[level - 1])
            )
            ex.create_order("SOL/USDT", side, OrderType.LIMIT, order.filled, price)

    sells = [t for t in ex.trades() if t.side is Side.SELL]
    assert len(sells) > 10  # SOL swung 140..173 in those three days
    balance = ex.balance()
    assert balance.total("USDT") == expected.quote
    assert balance.total("SOL") == expected.base
    assert min(balance.free.values()) >= 0
