"""Grid level math, exact in ``Decimal``: levels, order sizes, profit per grid, warnings.

``N`` levels cut the range into ``N - 1`` slots; slot ``k`` lies between levels ``k`` and
``k + 1``. Every slot gets the same share of the invested quote
(``total_investment x (1 - reserve_pct) / (N - 1)``), so its base amount is that share
divided by the slot's buy price (its lower level).
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid.config import GridConfig, GridSpacing

# Without a known tick size, levels and amounts keep this many significant digits.
SIGNIFICANT_DIGITS = 12
# Working precision of the level arithmetic: far beyond any exchange's precision.
_WORK_PRECISION = 50
# A range wider than this (upper / lower - 1) draws a warning.
WIDE_RANGE = Decimal("0.5")
FEW_GRIDS = 10


class GridLevelsError(ValueError):
    """The levels of a grid cannot be built (e.g. two collide after tick rounding)."""


def tidy(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and never in exponent notation (40000, not 4E+4)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def round_significant(
    value: Decimal, digits: int = SIGNIFICANT_DIGITS, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """``value`` rounded to ``digits`` significant digits."""
    if value == 0:
        return value
    return tidy(value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=rounding))


def round_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """``value`` rounded to a multiple of ``step`` (a tick or lot size)."""
    rounded = (value / step).to_integral_value(rounding=rounding) * step
    exponent = rounded.as_tuple().exponent
    # Only a step like 1E+1 yields exponent notation; skip the normalising otherwise
    # (this runs for every order a grid places).
    return tidy(rounded) if isinstance(exponent, int) and exponent > 0 else rounded


def calculate_grid_levels(
    lower: Decimal,
    upper: Decimal,
    num_grids: int,
    spacing: GridSpacing,
    price_step: Decimal | None = None,
) -> tuple[Decimal, ...]:
    """The ``num_grids`` prices of a grid, strictly increasing from ``lower`` to ``upper``.

    Arithmetic levels are evenly spaced; geometric levels have a constant ratio
    ``(upper / lower) ** (1 / (num_grids - 1))``. Each level is rounded to ``price_step``
    when the market's tick size is known (so the ends equal ``lower``/``upper`` when those
    are on the tick grid), else to 12 significant digits.

    Raises:
        GridLevelsError: fewer than 2 levels, ``lower >= upper``, a non-positive price, or
            two levels equal after rounding to ``price_step`` (the range is too narrow for
            that many levels at that tick size), or the lowest level rounding to 0.
    """
    if num_grids < 2:
        raise GridLevelsError(f"a grid needs at least 2 levels, got {num_grids}")
    if lower <= 0 or upper <= lower:
        raise GridLevelsError(f"need 0 < lower < upper, got {lower} and {upper}")
    gaps = num_grids - 1
    with localcontext() as ctx:
        ctx.prec = _WORK_PRECISION
        if spacing is GridSpacing.ARITHMETIC:
            raw = [(lower * (gaps - i) + upper * i) / gaps for i in range(num_grids)]
        else:
            log_ratio = (upper / lower).ln() / gaps
            raw = [lower * (log_ratio * i).exp() for i in range(num_grids)]
        raw[0], raw[-1] = lower, upper
        if price_step is not None:
            levels = tuple(round_to_step(p, price_step) for p in raw)
        else:
            levels = tuple(round_significant(p) for p in raw)
    rounding = (
        f"the tick size {price_step}"
        if price_step is not None
        else f"{SIGNIFICANT_DIGITS} significant digits"
    )
    if levels[0] <= 0:
        raise GridLevelsError(
            f"the lowest level {lower} rounds to 0 on {rounding}: raise lower_price"
        )
    for i in range(gaps):
        if levels[i + 1] <= levels[i]:
            raise GridLevelsError(
                f"levels {i} and {i + 1} collide at {levels[i]} after rounding to "
                f"{rounding}: use fewer levels or a wider range"
            )
    return levels


def grid_levels(config: GridConfig, market: MarketInfo | None = None) -> tuple[Decimal, ...]:
    """:func:`calculate_grid_levels` for a config, on ``market``'s tick size if known.

    Raises:
        GridLevelsError: see :func:`calculate_grid_levels`.
    """
    return calculate_grid_levels(
        config.lower_price,
        config.upper_price,
        config.num_grids,
        config.spacing,
        market.price_step if market is not None else None,
    )


def quote_per_grid(config: GridConfig) -> Decimal:
    """The quote each slot trades with: the invested part of the budget, split evenly."""
    return config.total_investment * (1 - config.reserve_pct) / config.num_slots


def round_amount(amount: Decimal, amount_step: Decimal | None) -> Decimal:
    """Round a base amount down to the lot size (never buy or sell more than we have)."""
    if amount_step is not None:
        return round_to_step(amount, amount_step, ROUND_DOWN)
    return round_significant(amount, rounding=ROUND_DOWN)


def calculate_order_size(
    config: GridConfig, levels: Sequence[Decimal], amount_step: Decimal | None = None
) -> tuple[Decimal, ...]:
    """The base amount of each slot's order (one per slot, ``len(levels) - 1`` of them).

    Slot ``k`` buys ``quote_per_grid / levels[k]``, rounded down to ``amount_step``.

    Raises:
        ValueError: ``levels`` does not have ``config.num_grids`` entries.
    """
    if len(levels) != config.num_grids:
        raise ValueError(f"expected {config.num_grids} levels, got {len(levels)}")
    share = quote_per_grid(config)
    return tuple(round_amount(share / price, amount_step) for price in levels[:-1])


def slot_profit(buy: Decimal, sell: Decimal, fee_rate: Decimal) -> Decimal:
    """Profit fraction of one cycle (buy at ``buy``, sell at ``sell``), net of both fees."""
    return (sell * (1 - fee_rate)) / (buy * (1 + fee_rate)) - 1


def profit_per_grid(levels: Sequence[Decimal], fee_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(lowest, highest) net profit fraction of one cycle over all slots.

    Geometric grids have a constant ratio, so both are equal; arithmetic grids earn most
    in the lowest slot (same step, smallest price).
    """
    profits = [slot_profit(levels[i], levels[i + 1], fee_rate) for i in range(len(levels) - 1)]
    return min(profits), max(profits)


def first_level_at_or_above(levels: Sequence[Decimal], price: Decimal) -> int:
    """Index of the lowest level >= ``price`` (``len(levels)`` when all are below it)."""
    return bisect.bisect_left(levels, price)


class WarningCode(enum.Enum):
    PRICE_OUTSIDE_RANGE = "price_outside_range"
    WIDE_RANGE = "wide_range"
    FEW_GRIDS = "few_grids"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    BELOW_MIN_AMOUNT = "below_min_amount"
    UNPROFITABLE = "unprofitable"
    BEYOND_STOP = "beyond_stop"


@dataclass(frozen=True, slots=True)
class GridWarning:
    code: WarningCode
    message: str


def validate_grid_config(
    config: GridConfig,
    current_price: Decimal | None = None,
    market: MarketInfo | None = None,
    levels: Sequence[Decimal] | None = None,
) -> list[GridWarning]:
    """Things that are allowed but probably not meant; an empty list when none.

    Raises:
        GridLevelsError: ``levels`` is None and the levels cannot be built.
    """
    if levels is None:
        levels = grid_levels(config, market)
    warnings: list[GridWarning] = []
    if current_price is not None and not config.lower_price <= current_price <= config.upper_price:
        warnings.append(
            GridWarning(
                WarningCode.PRICE_OUTSIDE_RANGE,
                f"current price {current_price} is outside the range "
                f"{config.lower_price}..{config.upper_price}",
            )
        )
    if current_price is not None:
        stop, take = config.stop_loss_price, config.take_profit_price
        if (stop is not None and current_price < stop) or (
            take is not None and current_price > take
        ):
            warnings.append(
                GridWarning(
                    WarningCode.BEYOND_STOP,
                    f"current price {current_price} is already beyond the stop-loss/take-profit "
                    "price: the grid would stop at once and place nothing",
                )
            )
    width = config.upper_price / config.lower_price - 1
    if width > WIDE_RANGE:
        warnings.append(
            GridWarning(
                WarningCode.WIDE_RANGE,
                f"the range spans {tidy(round(width * 100, 1))} % (> 50 %): capital is spread thin",
            )
        )
    if config.num_grids < FEW_GRIDS:
        warnings.append(
            GridWarning(WarningCode.FEW_GRIDS, f"only {config.num_grids} levels (< {FEW_GRIDS})")
        )
    share = quote_per_grid(config)
    if market is not None and market.min_notional is not None and share < market.min_notional:
        warnings.append(
            GridWarning(
                WarningCode.BELOW_MIN_NOTIONAL,
                f"each order is {tidy(round(share, 8))} {config.quote}, below the market's "
                f"minimum notional {market.min_notional}: orders will be refused",
            )
        )
    if market is not None and market.min_amount is not None:
        amounts = calculate_order_size(config, levels, market.amount_step)
        smallest = min(amounts)
        if smallest < market.min_amount:
            warnings.append(
                GridWarning(
                    WarningCode.BELOW_MIN_AMOUNT,
                    f"the smallest order is {smallest} {config.base}, below the market's "
                    f"minimum amount {market.min_amount}",
                )
            )
    low, _ = profit_per_grid(levels, config.fee_rate)
    if low <= 0:
        warnings.append(
            GridWarning(
                WarningCode.UNPROFITABLE,
                f"fees ({config.fee_rate} per side) eat the profit of some grids "
                f"(lowest {tidy(round(low * 100, 4))} %): use fewer levels",
            )
        )
    return warnings
