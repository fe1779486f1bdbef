"""Figures of a backtest report: drawdown, buy-and-hold, the JSON form."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest
from bt_ladder import LadderStrategy
from bt_support import candles_from_closes

from gridsup.backtest import BacktestStrategy, run_backtest
from gridsup.backtest.report import max_drawdown
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from helpers import BTC_USDT


@pytest.mark.parametrize(
    ("curve", "start", "fraction", "value"),
    [
        ([100.0, 110.0, 120.0], 100.0, 0.0, 0.0),  # only up
        ([90.0, 95.0], 100.0, 0.1, 10.0),  # a fall right after the start counts
        ([120.0, 90.0, 130.0, 117.0], 100.0, 0.25, 30.0),  # deepest of two falls
        ([200.0, 150.0, 400.0, 320.0], 100.0, 0.25, 80.0),  # same fraction, larger amount
        ([], 100.0, 0.0, 0.0),
    ],
)
def test_max_drawdown_is_the_largest_fall_from_a_running_peak(
    curve: list[float], start: float, fraction: float, value: float
) -> None:
    got_fraction, got_value = max_drawdown(np.array(curve), start)
    assert got_fraction == pytest.approx(fraction)
    assert got_value == pytest.approx(value)


def test_buy_and_hold_spends_the_quote_at_the_first_open() -> None:
    # 1,000 USDT at 155 (taker fee 0.1 %), valued at 170.
    strategy = LadderStrategy([Decimal(100)], Decimal(1))
    result = run_backtest(
        strategy, candles_from_closes([155.0, 170.0]), BTC_USDT, {"USDT": Decimal(1000)}
    )
    held = Decimal(1000) * Decimal("0.999") / Decimal(155)
    assert result.buy_and_hold_equity == held * Decimal(170)
    assert result.buy_and_hold_pnl == held * Decimal(170) - Decimal(1000)
    # The ladder bought nothing (its only level is far below): its PnL is zero.
    assert result.total_pnl == 0
    assert result.max_drawdown == 0


def test_the_report_is_json_with_exact_money() -> None:
    strategy = LadderStrategy([Decimal(p) for p in range(100, 201, 10)], Decimal(1))
    result = run_backtest(
        strategy, candles_from_closes([155.0, 145.0, 165.0]), BTC_USDT, {"USDT": Decimal(1000)}
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert Decimal(data["realized_profit"]) == result.realized_profit == Decimal("9.69")
    assert data["final_balances"] == {"BTC": "0", "USDT": str(result.final_balances["USDT"])}
    assert data["candles"] == 3
    assert data["completed_cycles"] == 1


def test_the_grid_strategy_is_a_backtest_strategy() -> None:
    config = GridConfig(
        name="g",
        symbol="BTC/USDT",
        lower_price=Decimal(1),
        upper_price=Decimal(2),
        total_investment=Decimal(100),
    )
    assert isinstance(GridTradingStrategy(config), BacktestStrategy)
    assert isinstance(LadderStrategy([Decimal(1)], Decimal(1)), BacktestStrategy)
