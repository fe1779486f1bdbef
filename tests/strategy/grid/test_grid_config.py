"""GridConfig rejects every invalid value and names the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from gridsup.strategy.grid.config import GridConfig, GridSpacing, InitialPosition

VALID: dict[str, object] = {
    "name": "btc",
    "symbol": "BTC/USDT",
    "lower_price": "40000",
    "upper_price": "70000",
    "total_investment": "1000",
}


def test_defaults() -> None:
    config = GridConfig.model_validate(VALID)

    assert config.num_grids == 20 and config.num_slots == 19
    assert config.spacing is GridSpacing.ARITHMETIC
    assert config.initial_position is InitialPosition.BUY
    assert config.reserve_pct == Decimal("0.20") and config.fee_rate == Decimal("0.001")
    assert config.stop_loss_pct is None and config.take_profit_pct is None
    assert config.enabled and not config.dry_run
    assert (config.base, config.quote) == ("BTC", "USDT")


def test_floats_from_toml_become_exact_decimals() -> None:
    config = GridConfig.model_validate({**VALID, "lower_price": 0.1, "upper_price": 0.3})

    assert config.lower_price == Decimal("0.1") and config.upper_price == Decimal("0.3")


def test_stop_and_take_profit_prices() -> None:
    config = GridConfig.model_validate({**VALID, "stop_loss_pct": "0.1", "take_profit_pct": "0.05"})

    assert config.stop_loss_price == Decimal("36000")
    assert config.take_profit_price == Decimal("73500")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("upper_price", "40000", "must be greater than lower_price (40000)"),
        ("upper_price", "100", "must be greater than lower_price"),
        ("lower_price", "0", "must be greater than 0"),
        ("lower_price", "-5", "must be greater than 0"),
        ("lower_price", "nan", ""),
        ("total_investment", "0", "must be greater than 0"),
        ("num_grids", 2, "between 3 and 200"),
        ("num_grids", 201, "between 3 and 200"),
        ("num_grids", 20.5, ""),
        ("num_grids", True, ""),
        ("stop_loss_pct", "1", "fraction in [0, 1)"),
        ("stop_loss_pct", "-0.1", "fraction in [0, 1)"),
        ("take_profit_pct", "5", "fraction in [0, 1)"),
        ("reserve_pct", "1.2", "fraction in [0, 1)"),
        ("fee_rate", "1", "fraction in [0, 1)"),
        ("spacing", "logarithmic", ""),
        ("initial_position", "sell", ""),
        ("symbol", "BTCUSDT", "must be BASE/QUOTE in capitals"),
        ("symbol", "btc/usdt", "must be BASE/QUOTE in capitals"),
        ("name", "", "must be 1-64 characters"),
        ("name", "has space", "must be 1-64 characters"),
        ("name", "x" * 65, "must be 1-64 characters"),
        ("lower_price", "abc", ""),
        ("colour", "blue", ""),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        GridConfig.model_validate({**VALID, field: value})

    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert message in errors[0]["msg"]


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        GridConfig.model_validate(
            {**VALID, "num_grids": 1, "fee_rate": "2", "total_investment": "-1"}
        )

    assert {e["loc"] for e in info.value.errors()} == {
        ("num_grids",),
        ("fee_rate",),
        ("total_investment",),
    }


def test_spacing_and_mode_accept_any_case() -> None:
    config = GridConfig.model_validate(
        {**VALID, "spacing": "Geometric", "initial_position": "NONE"}
    )

    assert config.spacing is GridSpacing.GEOMETRIC
    assert config.initial_position is InitialPosition.NONE
