"""Level math: exact Decimal levels, order sizes, profit per grid and warnings."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid.config import GridConfig, GridSpacing
from gridsup.strategy.levels import (
    GridLevelsError,
    WarningCode,
    calculate_grid_levels,
    calculate_order_size,
    first_level_at_or_above,
    grid_levels,
    profit_per_grid,
    quote_per_grid,
    slot_profit,
    validate_grid_config,
)

D = Decimal

lowers = st.decimals(min_value="0.0001", max_value="100000", places=4)
widths = st.decimals(min_value="0.01", max_value="5", places=2)
counts = st.integers(3, 200)
spacings = st.sampled_from(list(GridSpacing))


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(lowers, widths, counts, spacings)
def test_levels_run_from_lower_to_upper_strictly_increasing(
    lower: Decimal, width: Decimal, n: int, spacing: GridSpacing
) -> None:
    upper = lower * (1 + width)
    try:
        levels = calculate_grid_levels(lower, upper, n, spacing)
    except GridLevelsError:
        assume(False)  # 12 significant digits cannot separate them: refused, fine
        return

    assert len(levels) == n
    assert levels[0] == lower and levels[-1] == upper
    assert all(a < b for a, b in itertools.pairwise(levels))


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(lowers, widths, counts)
def test_geometric_levels_have_a_constant_ratio(lower: Decimal, width: Decimal, n: int) -> None:
    upper = lower * (1 + width)
    levels = calculate_grid_levels(lower, upper, n, GridSpacing.GEOMETRIC)
    ratios = [b / a for a, b in itertools.pairwise(levels)]

    assert max(ratios) - min(ratios) < D("1e-9")


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(lowers, widths, counts)
def test_arithmetic_levels_have_a_constant_step(lower: Decimal, width: Decimal, n: int) -> None:
    upper = lower * (1 + width)
    levels = calculate_grid_levels(lower, upper, n, GridSpacing.ARITHMETIC)
    steps = [b - a for a, b in itertools.pairwise(levels)]

    # each level keeps 12 significant digits: steps differ by rounding only
    assert max(steps) - min(steps) <= upper * D("1e-10")


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(
    st.integers(100, 10_000_000),
    st.integers(1, 300),
    counts,
    spacings,
    st.sampled_from([D("0.01"), D("0.1"), D("1"), D("0.00001")]),
)
def test_tick_rounded_levels_sit_on_the_tick_or_are_refused(
    lower_ticks: int, width_pct: int, n: int, spacing: GridSpacing, tick: Decimal
) -> None:
    lower = lower_ticks * tick
    upper = lower + lower * width_pct / 100
    upper = (upper / tick).to_integral_value() * tick
    assume(upper > lower)
    try:
        levels = calculate_grid_levels(lower, upper, n, spacing, tick)
    except GridLevelsError as exc:
        assert "collide" in str(exc)
        return
    assert all(level % tick == 0 for level in levels)
    assert levels[0] == lower and levels[-1] == upper
    assert all(a < b for a, b in itertools.pairwise(levels))


def test_levels_that_collide_at_the_tick_size_are_refused() -> None:
    with pytest.raises(GridLevelsError, match="collide"):
        calculate_grid_levels(D("1.00"), D("1.05"), 10, GridSpacing.ARITHMETIC, D("0.01"))


@pytest.mark.parametrize(
    ("lower", "upper", "n"), [(D(0), D(1), 3), (D(2), D(1), 3), (D(1), D(2), 1)]
)
def test_impossible_ranges_are_refused(lower: Decimal, upper: Decimal, n: int) -> None:
    with pytest.raises(GridLevelsError):
        calculate_grid_levels(lower, upper, n, GridSpacing.ARITHMETIC)


def test_arithmetic_levels_are_exact() -> None:
    levels = calculate_grid_levels(D(100), D(200), 5, GridSpacing.ARITHMETIC)
    assert levels == (D(100), D(125), D(150), D(175), D(200))


def config(**overrides: object) -> GridConfig:
    fields: dict[str, object] = {
        "name": "g",
        "symbol": "BTC/USDT",
        "lower_price": "100",
        "upper_price": "200",
        "num_grids": 5,
        "total_investment": "1000",
    }
    fields.update(overrides)
    return GridConfig.model_validate(fields)


def test_order_size_splits_the_invested_quote_evenly() -> None:
    cfg = config()
    levels = grid_levels(cfg)

    amounts = calculate_order_size(cfg, levels, D("0.001"))

    assert quote_per_grid(cfg) == D(200)  # 1000 x 0.8 / 4 slots
    assert amounts == (D(2), D("1.6"), D("1.333"), D("1.142"))  # rounded down to the lot


def test_order_size_needs_the_configured_levels() -> None:
    with pytest.raises(ValueError, match="expected 5 levels"):
        calculate_order_size(config(), (D(1), D(2)))


@pytest.mark.parametrize("spacing", list(GridSpacing))
def test_profit_per_grid_is_net_of_both_fees(spacing: GridSpacing) -> None:
    cfg = config(spacing=spacing.value, fee_rate="0.001")
    levels = grid_levels(cfg)

    low, high = profit_per_grid(levels, cfg.fee_rate)

    gross = [b / a - 1 for a, b in itertools.pairwise(levels)]
    assert low < min(gross) and high < max(gross)
    assert (
        slot_profit(D(100), D(125), D("0.001")) == D(125) * D("0.999") / (D(100) * D("1.001")) - 1
    )
    if spacing is GridSpacing.GEOMETRIC:
        assert high - low < D("1e-9")
    else:
        assert high == slot_profit(levels[0], levels[1], cfg.fee_rate)


def test_first_level_at_or_above() -> None:
    levels = (D(1), D(2), D(3))
    assert [first_level_at_or_above(levels, D(p)) for p in ("0.5", "1", "1.5", "3", "4")] == [
        0,
        0,
        1,
        2,
        3,
    ]


MARKET = MarketInfo(
    symbol="BTC/USDT", base="BTC", quote="USDT", min_notional=D(10), min_amount=D("0.05")
)


@pytest.mark.parametrize(
    ("overrides", "price", "market", "expected"),
    [
        ({"num_grids": 12, "upper_price": "140"}, D(120), None, set()),
        ({"num_grids": 12, "upper_price": "140"}, D(90), None, {WarningCode.PRICE_OUTSIDE_RANGE}),
        ({"num_grids": 12}, None, None, {WarningCode.WIDE_RANGE}),
        ({"num_grids": 5, "upper_price": "140"}, None, None, {WarningCode.FEW_GRIDS}),
        (
            {"num_grids": 12, "upper_price": "140", "total_investment": "50"},
            None,
            MARKET,
            {WarningCode.BELOW_MIN_NOTIONAL, WarningCode.BELOW_MIN_AMOUNT},
        ),
        (
            {"num_grids": 12, "upper_price": "140", "stop_loss_pct": "0.1"},
            D(80),
            None,
            {WarningCode.PRICE_OUTSIDE_RANGE, WarningCode.BEYOND_STOP},
        ),
        (
            {"num_grids": 200, "upper_price": "101"},
            None,
            None,
            {WarningCode.UNPROFITABLE},
        ),
    ],
)
def test_warnings(
    overrides: dict[str, object],
    price: Decimal | None,
    market: MarketInfo | None,
    expected: set[WarningCode],
) -> None:
    warnings = validate_grid_config(config(**overrides), price, market)

    assert {w.code for w in warnings} == expected
    assert all(w.message for w in warnings)
