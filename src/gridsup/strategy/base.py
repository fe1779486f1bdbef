"""``StrategyConfig``: the fields every strategy's configuration carries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# A grid name ends up in file names, log lines and (hashed) in order ids: keep it tame.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# ccxt's unified spot symbol, BASE/QUOTE.
SYMBOL_PATTERN = r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$"


class StrategyConfig(BaseModel):
    """Common configuration of one strategy instance.

    ``name`` identifies the instance (a grid's name); it must be unique in a grids file
    and stable across restarts, because state, locks and order ids are keyed by it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    name: str = Field(pattern=NAME_PATTERN)
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    enabled: bool = True
    dry_run: bool = False

    @property
    def base(self) -> str:
        return self.symbol.split("/", 1)[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/", 1)[1]
