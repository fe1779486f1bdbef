"""Property tests: the grid over random price paths keeps its books and invariants,
and the fast engine equals the naive one."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
from bt_grid import RecordingGrid, check_account, expected_cycle_profits
from bt_support import assert_ledger_consistent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsup.backtest import Mode, run_backtest
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid.config import GridConfig

MARKET = MarketInfo(
    symbol="ETH/USDT",
    base="ETH",
    quote="USDT",
    price_step=Decimal("0.01"),
    amount_step=Decimal("0.0001"),
    min_notional=Decimal("1"),
)


@st.composite
def price_paths(draw: st.DrawFn) -> pd.DataFrame:
    """A random walk of 2..80 candles around 100, each with random wicks, in cents."""
    steps = draw(st.lists(st.integers(-400, 400), min_size=1, max_size=80))
    wicks = draw(
        st.lists(
            st.tuples(st.integers(0, 300), st.integers(0, 300)),
            min_size=len(steps) + 1,
            max_size=len(steps) + 1,
        )
    )
    cents = np.cumsum([10_000, *steps]).clip(1_000, 30_000)
    opens = np.concatenate(([cents[0]], cents[:-1]))
    highs = np.maximum(opens, cents) + [w[0] for w in wicks]
    lows = (np.minimum(opens, cents) - [w[1] for w in wicks]).clip(500, None)
    return pd.DataFrame(
        {
            "timestamp": 1_704_067_200_000 + 60_000 * np.arange(len(cents)),
            "open": opens / 100,
            "high": highs / 100,
            "low": lows / 100,
            "close": cents / 100,
            "volume": 1.0,
        }
    )


grid_fields = st.fixed_dictionaries(
    {
        "lower_price": st.sampled_from(["80", "90", "97"]),
        "upper_price": st.sampled_from(["103", "110", "125"]),
        "num_grids": st.integers(3, 12),
        "spacing": st.sampled_from(["arithmetic", "geometric"]),
        "initial_position": st.sampled_from(["buy", "none"]),
        "stop_loss_pct": st.sampled_from([None, "0.01", "0.05"]),
        "take_profit_pct": st.sampled_from([None, "0.01", "0.1"]),
        "total_investment": st.sampled_from(["500", "1000"]),
    }
)


def grid(fields: dict[str, object]) -> RecordingGrid:
    config = GridConfig.model_validate({"name": "eth", "symbol": "ETH/USDT", **fields})
    return RecordingGrid(config)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candles=price_paths(),
    fields=grid_fields,
    # 300 USDT cannot fund the grids: refusals and skipped levels must keep the books too.
    quote=st.sampled_from([300, 1_200]),
)
def test_random_paths_keep_books_invariants_and_agree_with_the_naive_loop(
    candles: pd.DataFrame, fields: dict[str, object], quote: int
) -> None:
    balances = {"USDT": Decimal(quote)}
    naive_grid = grid(fields)

    def observe(i: int, paper: PaperExchange) -> None:
        check_account(naive_grid, paper, "ETH/USDT")

    naive = run_backtest(naive_grid, candles, MARKET, balances, mode=Mode.NAIVE, observer=observe)
    fast_grid = grid(fields)
    fast = run_backtest(fast_grid, candles, MARKET, balances)

    assert_ledger_consistent(naive)
    booked = [profit for _, profit in naive_grid.bookings]
    assert booked == expected_cycle_profits(naive_grid.fills)
    assert naive.realized_profit == sum(booked)
    assert fast_grid.fills == naive_grid.fills
    assert fast_grid.get_state() == naive_grid.get_state()
    np.testing.assert_array_equal(fast.equity, naive.equity)
    assert {**fast.to_dict(), "candles_walked": 0} == {**naive.to_dict(), "candles_walked": 0}
