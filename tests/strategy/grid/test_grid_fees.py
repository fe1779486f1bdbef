"""Fees as Binance charges them: a buy's commission in the base it bought, or in BNB.

The grid sizes each counter sell from what the account received, keeps the rounding
remainder as dust under one lot step, and books profits net of every fee; the fills'
own sum (what the exchange's balances move by) always equals what the grid reports.
"""

from __future__ import annotations

from decimal import Decimal

from gridsup.messages.common import Side
from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.levels import calculate_order_size, grid_levels
from helpers import BTC_USDT
from strategy.fakes import FakeExchange
from strategy.grid.test_grid import make_config

D = Decimal
STEP = BTC_USDT.amount_step
assert STEP is not None


def run(exchange: FakeExchange, **overrides: object) -> GridTradingStrategy:
    strategy = GridTradingStrategy(make_config(initial_position="none", **overrides), "btc")
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(exchange.price)
    return strategy


def balance_change(exchange: FakeExchange) -> dict[str, Decimal]:
    """What the fills moved the account by, per asset (the exchange's own arithmetic)."""
    out: dict[str, Decimal] = {}
    for fill in exchange.fills:
        sign = 1 if fill.side is Side.BUY else -1
        out["BTC"] = out.get("BTC", D(0)) + sign * fill.amount
        out["USDT"] = out.get("USDT", D(0)) - sign * fill.price * fill.amount
        out[fill.fee_currency] = out.get(fill.fee_currency, D(0)) - fill.fee
    return out


def test_base_fees_over_a_thousand_cycles_strand_under_one_lot_step() -> None:
    exchange = FakeExchange(price=D(52000), fee_in_base=True)
    strategy = run(exchange)

    for _ in range(1000):
        exchange.move_to(D(49900))
        exchange.move_to(D(55100))
        assert D(0) <= strategy.dust < STEP

    sells = sum((i.amount for i in exchange.open.values() if i.side is Side.SELL), D(0))
    change = balance_change(exchange)
    assert change["BTC"] == strategy.base_held == sells + strategy.dust
    assert change["USDT"] == strategy.realized_profit - strategy.cost_held
    assert strategy.completed_cycles == 1000
    assert strategy.slot_invariant_violations() == []


def test_bnb_fees_are_in_the_profit_and_counted_by_asset() -> None:
    exchange = FakeExchange(price=D(52000), bnb_price=D(600))
    strategy = run(exchange)
    amount = next(i.amount for i in exchange.open.values() if i.price == D(50000))

    exchange.move_to(D(49900))
    sell = next(i for i in exchange.open.values() if i.side is Side.SELL)
    assert sell.amount == amount  # a BNB fee takes nothing from the base bought
    exchange.move_to(D(55100))

    cost = D(50000) * amount * D("1.001")
    proceeds = D(55000) * amount * D("0.999")
    assert strategy.realized_profit == proceeds - cost
    fees_bnb = (D(50000) + D(55000)) * amount * D("0.001") / D(600)
    assert strategy.other_fees == {"BNB": fees_bnb}
    change = balance_change(exchange)
    assert change["BNB"] == -fees_bnb
    # The quote balance never paid the BNB fees: it moved by the profit plus their value.
    fees_quote = (D(50000) + D(55000)) * amount * D("0.001")
    assert change["USDT"] == strategy.realized_profit - strategy.cost_held + fees_quote


def test_quote_fees_take_nothing_from_the_base_and_are_in_the_profit() -> None:
    exchange = FakeExchange(price=D(52000))  # every fee in quote: Kraken's rule
    strategy = run(exchange)
    amount = next(i.amount for i in exchange.open.values() if i.price == D(50000))

    exchange.move_to(D(49900))
    sell = next(i for i in exchange.open.values() if i.side is Side.SELL)
    exchange.move_to(D(55100))

    assert sell.amount == amount  # the whole base bought is sold: no dust
    cost = D(50000) * amount * D("1.001")
    proceeds = D(55000) * amount * D("0.999")
    assert strategy.realized_profit == proceeds - cost
    change = balance_change(exchange)
    assert change["USDT"] == strategy.realized_profit - strategy.cost_held
    assert change["BTC"] == strategy.base_held and strategy.dust == 0


def test_a_counter_sell_under_the_minimum_waits_in_the_dust_for_the_next_buy() -> None:
    config = make_config(initial_position="none")
    levels = grid_levels(config)
    amount = calculate_order_size(config, levels, STEP)[2]  # the slot buying at 50000
    market = MarketInfo(
        symbol="BTC/USDT", base="BTC", quote="USDT", amount_step=STEP, min_amount=amount
    )
    exchange = FakeExchange(market, price=D(52000), fee_in_base=True)
    strategy = run(exchange)

    exchange.move_to(D(49900))  # bought amount, received 0.999 of it: under the minimum
    assert not any(i.side is Side.SELL for i in exchange.open.values())
    assert strategy.dust == amount * D("0.999")
    rebuy = [i for i in exchange.open.values() if i.price == D(50000)]
    assert len(rebuy) == 1 and rebuy[0].amount == amount
    assert strategy.skipped_levels == ()

    exchange.move_to(D(50100))
    exchange.move_to(D(49900))  # the second buy's counter sell carries the first's base
    sells = [i for i in exchange.open.values() if i.side is Side.SELL]
    received = 2 * amount * D("0.999")
    assert len(sells) == 1 and sells[0].amount == received.quantize(STEP, rounding="ROUND_DOWN")
    assert strategy.dust == received - sells[0].amount < STEP
    assert balance_change(exchange)["USDT"] == -strategy.cost_held


def test_the_unsold_rest_of_a_cancelled_partial_sell_joins_the_next_sell() -> None:
    exchange = FakeExchange(price=D(52000))
    strategy = run(exchange)
    exchange.move_to(D(49900))
    sell_cid, sell = next((c, i) for c, i in exchange.open.items() if i.side is Side.SELL)
    exchange.fill(sell_cid, D("0.01"))

    exchange.cancel_external(sell_cid)

    rest = sell.amount - D("0.01")
    assert strategy.dust == rest
    exchange.move_to(D(49900))  # the buy re-placed for what was sold fills
    sells = [i for i in exchange.open.values() if i.side is Side.SELL]
    assert len(sells) == 1 and sells[0].amount == D("0.01") + rest
    assert strategy.dust == 0
    change = balance_change(exchange)
    assert change["BTC"] == strategy.base_held
    assert change["USDT"] == strategy.realized_profit - strategy.cost_held


def test_the_dust_survives_a_restart() -> None:
    exchange = FakeExchange(price=D(52000), fee_in_base=True)
    strategy = run(exchange)
    exchange.move_to(D(49900))
    assert strategy.dust > 0

    again = GridTradingStrategy(make_config(initial_position="none"), "btc")
    again.from_state(strategy.get_state())

    assert again.dust == strategy.dust and again.cost_held == strategy.cost_held
