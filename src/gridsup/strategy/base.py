"""``StrategyConfig``: the fields every strategy's configuration carries."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from gridsup.strategy.echo import echo_value

# A grid name ends up in file names, log lines and (hashed) in order ids: keep it tame.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# ccxt's unified spot symbol, BASE/QUOTE (the CLI checks --symbol with it too).
SYMBOL_PATTERN = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}")


class StrategyConfig(BaseModel):
    """Common configuration of one strategy instance.

    ``name`` identifies the instance (a grid's name); it must be unique in a grids file
    and stable across restarts, because state, locks and order ids are keyed by it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    name: str
    symbol: str
    enabled: bool = True
    dry_run: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise PydanticCustomError(
                "grid_name",
                "must be 1-64 characters of letters, digits, '_', '.', '-', starting with a "
                "letter or digit, got {value}",
                {"value": echo_value(value)},
            )
        return value

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        if not SYMBOL_PATTERN.fullmatch(value):
            raise PydanticCustomError(
                "symbol",
                "must be BASE/QUOTE in capitals, e.g. BTC/USDT, got {value}",
                {"value": echo_value(value)},
            )
        return value

    @property
    def base(self) -> str:
        return self.symbol.split("/", 1)[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/", 1)[1]
