"""The real grid strategy backtested over real Binance candles."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from bt_grid import RecordingGrid, check_account, expected_cycle_profits
from bt_support import assert_ledger_consistent

from gridsup.backtest import Mode, run_backtest
from gridsup.exchange.candles import load_candles
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.strategy.grid import StopReason
from gridsup.strategy.grid.config import GridConfig
from helpers import BTC_USDT, shared_data


@pytest.fixture(scope="module")
def btc_january():
    return load_candles(shared_data("binance_BTC-USDT_1m.csv.gz"))


def btc_grid(**fields: object) -> RecordingGrid:
    config = GridConfig.model_validate(
        {
            "name": "btc",
            "symbol": "BTC/USDT",
            "lower_price": "38000",
            "upper_price": "49000",
            "num_grids": 20,
            "total_investment": "10000",
            **fields,
        }
    )
    return RecordingGrid(config)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"spacing": "geometric"},
        {"initial_position": "none"},
        {"lower_price": "40000", "upper_price": "44000", "stop_loss_pct": "0.02"},
    ],
    ids=["arithmetic", "geometric", "no-initial-buy", "stop-loss"],
)
def test_a_month_of_btc_minutes_keeps_the_books_and_the_invariants(
    btc_january, fields: dict[str, object]
) -> None:
    # Arrange
    strategy = btc_grid(**fields)

    def observe(i: int, paper: PaperExchange) -> None:
        check_account(strategy, paper, "BTC/USDT")

    # Act
    result = run_backtest(
        strategy, btc_january, BTC_USDT, {"USDT": Decimal(10_000)}, observer=observe
    )
    # Assert
    assert result.completed_cycles > 0
    booked = [profit for _, profit in strategy.bookings]
    assert len(booked) == result.completed_cycles
    assert booked == expected_cycle_profits(strategy.fills)
    assert result.realized_profit == sum(booked)
    assert result.total_pnl == result.realized_profit + result.unrealized_pnl
    assert result.orders_rejected == 0
    assert_ledger_consistent(result)


def test_the_stop_loss_sells_everything_and_stays_stopped(btc_january) -> None:
    # January 2024 fell from ~48.9k to ~38.5k: a 44k-48k grid with a 5 % stop exits.
    strategy = btc_grid(lower_price="44000", upper_price="48000", stop_loss_pct="0.05")
    result = run_backtest(strategy, btc_january, BTC_USDT, {"USDT": Decimal(10_000)})
    assert result.stopped
    assert strategy.stop_reason is StopReason.STOP_LOSS
    assert strategy.open_orders() == {}
    assert result.final_balances["BTC"] < Decimal("0.00001")  # under one lot
    exit_sell = result.fills[-1]
    assert exit_sell.taker
    assert exit_sell.price < Decimal("41800")  # 44,000 x (1 - 0.05)
    assert_ledger_consistent(result)


@pytest.mark.parametrize(
    ("file", "lower", "upper"),
    [
        ("binance_BTC-USDT_1m.csv.gz", "38000", "49000"),
        ("binance_BTC-USDT_1h.csv.gz", "5000", "70000"),
    ],
)
def test_skipping_quiet_candles_changes_nothing(file: str, lower: str, upper: str) -> None:
    candles = load_candles(shared_data(file))
    runs = {}
    for mode in Mode:
        strategy = btc_grid(lower_price=lower, upper_price=upper)
        result = run_backtest(strategy, candles, BTC_USDT, {"USDT": Decimal(10_000)}, mode=mode)
        runs[mode] = (result, strategy)
    (fast, s_fast), (naive, s_naive) = runs[Mode.FAST], runs[Mode.NAIVE]
    assert fast.events < naive.events == len(candles)
    assert s_fast.fills == s_naive.fills
    assert s_fast.get_state() == s_naive.get_state()
    np.testing.assert_array_equal(fast.equity, naive.equity)
    assert {**fast.to_dict(), "candles_walked": 0} == {**naive.to_dict(), "candles_walked": 0}
