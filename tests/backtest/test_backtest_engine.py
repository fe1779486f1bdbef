"""The backtest engine with a small test strategy: fills, ledger, fast == naive."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from bt_ladder import LadderStrategy
from bt_support import assert_ledger_consistent, candles_from_closes

from gridsup.backtest import BacktestError, Mode, run_backtest
from gridsup.exchange.candles import load_candles
from gridsup.messages.common import Side
from helpers import BTC_USDT, shared_data

USDT = {"USDT": Decimal("10000")}


def ladder(
    lo: int = 100, hi: int = 200, step: int = 10, amount: str = "1", **kw: object
) -> LadderStrategy:
    levels = [Decimal(p) for p in range(lo, hi + 1, step)]
    return LadderStrategy(levels, Decimal(amount), **kw)  # type: ignore[arg-type]


def test_a_buy_fills_then_its_sell_completes_a_cycle() -> None:
    # Arrange: start at 155; buys at 150..100. Down to 145 fills the 150 buy; up to
    # 165 fills its sell at 160.
    candles = candles_from_closes([155.0, 145.0, 165.0])
    strategy = ladder()
    # Act
    result = run_backtest(strategy, candles, BTC_USDT, USDT)
    # Assert
    assert result.completed_cycles == 1
    assert strategy.booked == [Decimal("160") - Decimal("0.16") - Decimal("150.15")]
    assert result.realized_profit == sum(strategy.booked)
    sides = [(t.side, t.price) for t in result.fills]
    assert sides == [(Side.BUY, Decimal("150")), (Side.SELL, Decimal("160"))]
    assert result.fees_paid == Decimal("0.15") + Decimal("0.16")
    assert_ledger_consistent(result)


@pytest.mark.parametrize(
    ("closes", "wick", "path"),
    [
        # up candle: open -> low -> high -> close. The 150 buy fills on the way down,
        # then its 160 sell on the way up: one candle, one cycle.
        ([155.0, 158.0], 7.0, [Decimal("150"), Decimal("160")]),
        # down candle: open -> high -> low -> close. The high (157.5) comes before
        # the 150 buy fills, so its 160 sell is out of reach; the low (139.5) fills
        # the 150 and 140 buys, best first.
        ([155.0, 142.0], 2.5, [Decimal("150"), Decimal("140")]),
    ],
)
def test_the_intra_candle_path_decides_what_fills(
    closes: list[float], wick: float, path: list[Decimal]
) -> None:
    result = run_backtest(ladder(), candles_from_closes(closes, wick=wick), BTC_USDT, USDT)
    assert [t.price for t in result.fills] == path
    assert_ledger_consistent(result)


def test_a_refused_order_reaches_the_strategy_as_rejected() -> None:
    # 2 units at each of the 6 levels 100..150 need ~1,500 USDT; 700 covers the
    # first three (100, 110, 120: 660.66 with fees).
    strategy = ladder(amount="2")
    result = run_backtest(strategy, candles_from_closes([155.0]), BTC_USDT, {"USDT": Decimal(700)})
    assert result.orders_placed == 3
    assert result.orders_rejected == len(strategy.rejected) == 3
    assert all("InsufficientFunds" in reason for reason in strategy.rejected)


def test_a_market_order_fills_at_the_current_path_price() -> None:
    # The buys at 150..120 fill on the way down; at 120 the ladder sells all at market.
    strategy = ladder(exit_below=Decimal("125"))
    result = run_backtest(strategy, candles_from_closes([155.0, 135.0, 120.0]), BTC_USDT, USDT)
    market_sells = [t for t in result.fills if t.taker]
    assert [(t.side, t.price, t.amount) for t in market_sells] == [
        (Side.SELL, Decimal("120.0"), Decimal("4"))
    ]
    assert result.stopped
    assert result.final_balances["BTC"] == 0
    assert_ledger_consistent(result)


def test_candles_that_cannot_change_anything_are_skipped() -> None:
    # Arrange: after the first candle, 3,000 candles wander between 151 and 159,
    # reaching no order (buys <= 150, no sells).
    rng = np.random.default_rng(7)
    closes = [155.0, *np.round(rng.uniform(152, 158, 3000), 2).tolist()]
    candles = candles_from_closes(closes, wick=0.5)
    # Act
    fast = run_backtest(ladder(), candles, BTC_USDT, USDT)
    every = run_backtest(ladder(wants_every_tick=True), candles, BTC_USDT, USDT)
    # Assert
    assert fast.events == 1
    assert every.events == len(candles)
    assert fast.to_dict() == every.to_dict() | {"candles_walked": 1}


def test_fast_and_naive_agree_on_real_candles() -> None:
    # BTC/USDT 1m, January 2024: a 38k-49k ladder of 23 levels.
    candles = load_candles(shared_data("binance_BTC-USDT_1m.csv.gz"))
    results = {}
    for mode in Mode:
        strategy = LadderStrategy([Decimal(p) for p in range(38_000, 49_001, 500)], Decimal("0.01"))
        results[mode] = (run_backtest(strategy, candles, BTC_USDT, USDT, mode=mode), strategy)
    (fast, s_fast), (naive, s_naive) = results[Mode.FAST], results[Mode.NAIVE]
    assert fast.events < len(candles) // 10 < naive.events
    assert fast.completed_cycles > 20
    assert fast.fills == naive.fills
    assert s_fast.fills == s_naive.fills
    np.testing.assert_array_equal(fast.cash, naive.cash)
    np.testing.assert_array_equal(fast.base_held, naive.base_held)
    assert {**fast.to_dict(), "candles_walked": 0} == {**naive.to_dict(), "candles_walked": 0}
    assert fast.realized_profit == sum(s_fast.booked)
    assert_ledger_consistent(fast)


@pytest.mark.parametrize(
    ("frame_change", "message"),
    [
        (lambda df: df.iloc[0:0], "no candles"),
        (lambda df: df.drop(columns=["close"]), "close"),
        (lambda df: df.assign(low=-1.0), "positive"),
        (lambda df: df.iloc[::-1], "increasing"),
    ],
)
def test_bad_candles_are_refused_with_a_reason(frame_change, message: str) -> None:
    candles = frame_change(candles_from_closes([155.0, 150.0, 160.0]))
    with pytest.raises(BacktestError, match=message):
        run_backtest(ladder(), candles, BTC_USDT, USDT)
