"""``GridConfig``: one spot grid, validated field by field.

Every rule names its field, so that a grids.toml with several mistakes can report all of
them at once (``grid[1] "eth": upper_price: must be greater than lower_price (2000)``).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StrictInt, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gridsup.strategy.base import StrategyConfig
from gridsup.strategy.echo import echo_value

MIN_GRIDS = 3
MAX_GRIDS = 200
# Decimals are arbitrary precision. These bounds, wide for any spot market, keep every
# later step (levels, order sizes, rounding to a tick or lot) inside the 28 digits of
# the default decimal context, so an extreme value is refused here, naming its field,
# and never by an exception deep in the arithmetic.
MIN_PRICE = Decimal("1e-12")
MAX_PRICE = Decimal("1e12")
MIN_INVESTMENT = Decimal("1e-8")
MAX_INVESTMENT = Decimal("1e12")
# total_investment / lower_price: the most base a grid may ever hold.
MAX_BASE_AMOUNT = Decimal("1e18")
# A float from TOML has at most 17; more digits are a typo or a hostile file.
MAX_DIGITS = 18


class GridSpacing(enum.Enum):
    """How the levels are spread between ``lower_price`` and ``upper_price``."""

    ARITHMETIC = "arithmetic"  # constant price step
    GEOMETRIC = "geometric"  # constant ratio (constant profit % per grid)


class InitialPosition(enum.Enum):
    """What a grid does on its first price."""

    BUY = "buy"  # buy at market the base for the slots above the price, sell it there
    NONE = "none"  # place the buys below the price only


Fraction = Annotated[Decimal, Field(allow_inf_nan=False)]


class GridConfig(StrategyConfig):
    """One grid: a price range cut into ``num_grids`` levels (``num_grids - 1`` slots)."""

    lower_price: Fraction
    upper_price: Fraction
    num_grids: StrictInt = 20
    total_investment: Fraction
    spacing: GridSpacing = GridSpacing.ARITHMETIC
    stop_loss_pct: Fraction | None = None
    take_profit_pct: Fraction | None = None
    reserve_pct: Fraction = Decimal("0.20")
    fee_rate: Fraction = Decimal("0.001")
    initial_position: InitialPosition = InitialPosition.BUY

    @field_validator(
        "lower_price",
        "upper_price",
        "total_investment",
        "stop_loss_pct",
        "take_profit_pct",
        "reserve_pct",
        "fee_rate",
    )
    @classmethod
    def _digits(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and len(value.as_tuple().digits) > MAX_DIGITS:
            raise PydanticCustomError(
                "digits",
                "has more than {digits} significant digits, got {value}",
                {"digits": MAX_DIGITS, "value": echo_value(value, 40)},
            )
        return value

    @field_validator("lower_price")
    @classmethod
    def _price(cls, value: Decimal) -> Decimal:
        return _in_range(value, MIN_PRICE, MAX_PRICE, "a price")

    @field_validator("total_investment")
    @classmethod
    def _investment(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        _in_range(value, MIN_INVESTMENT, MAX_INVESTMENT, "an amount of quote")
        lower = info.data.get("lower_price")
        if lower is not None and value / lower > MAX_BASE_AMOUNT:
            raise PydanticCustomError(
                "base_amount",
                "buys up to {amount} of the base at lower_price {lower}, more than the "
                "{most} a grid may hold (lower total_investment or raise lower_price), "
                "got {value}",
                {
                    "amount": f"{value / lower:.3E}",
                    "lower": str(lower),
                    "most": str(MAX_BASE_AMOUNT),
                    "value": echo_value(value),
                },
            )
        return value

    @field_validator("upper_price")
    @classmethod
    def _above_lower(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        _in_range(value, MIN_PRICE, MAX_PRICE, "a price")
        lower = info.data.get("lower_price")
        if lower is not None and value <= lower:
            raise PydanticCustomError(
                "grid_range",
                "must be greater than lower_price ({lower}), got {value}",
                {"lower": str(lower), "value": echo_value(value)},
            )
        return value

    @field_validator("num_grids")
    @classmethod
    def _grid_count(cls, value: int) -> int:
        if not MIN_GRIDS <= value <= MAX_GRIDS:
            raise PydanticCustomError(
                "grid_count",
                "must be between {low} and {high} levels, got {value}",
                {"low": MIN_GRIDS, "high": MAX_GRIDS, "value": echo_value(value, 30)},
            )
        return value

    @field_validator("stop_loss_pct", "take_profit_pct", "reserve_pct", "fee_rate")
    @classmethod
    def _fraction(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not Decimal(0) <= value < Decimal(1):
            raise PydanticCustomError(
                "fraction",
                "must be a fraction in [0, 1) (0.05 means 5 %), got {value}",
                {"value": echo_value(value)},
            )
        return value

    @field_validator("spacing", "initial_position", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        # "Geometric" and "BUY" mean what they say; an enum member passes through.
        return value.lower() if isinstance(value, str) else value

    @property
    def num_slots(self) -> int:
        return self.num_grids - 1

    @property
    def stop_loss_price(self) -> Decimal | None:
        """Below this price the grid stops (None: no stop-loss)."""
        if self.stop_loss_pct is None:
            return None
        return self.lower_price * (1 - self.stop_loss_pct)

    @property
    def take_profit_price(self) -> Decimal | None:
        """Above this price the grid takes its profit and stops (None: never)."""
        if self.take_profit_pct is None:
            return None
        return self.upper_price * (1 + self.take_profit_pct)


def _in_range(value: Decimal, low: Decimal, high: Decimal, what: str) -> Decimal:
    """``value`` when ``low <= value <= high``.

    Raises:
        PydanticCustomError: outside the range (the message gives range and value).
    """
    if value <= 0:
        raise PydanticCustomError(
            "positive", "must be greater than 0, got {value}", {"value": echo_value(value)}
        )
    if not low <= value <= high:
        raise PydanticCustomError(
            "out_of_range",
            "must be between {low} and {high} ({what}), got {value}",
            {"low": str(low), "high": str(high), "what": what, "value": echo_value(value)},
        )
    return value
