"""``[exchange]``: which exchange, live or a dry run, the paper account, the request budget,
and the names of the environment variables that hold the API keys (never the keys)."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gridsup.config.tables import ENV_NAME, Table
from gridsup.strategy.echo import echo_value
from gridsup.strategy.grid.config import MAX_BASE_AMOUNT, MAX_DIGITS

_SECRET_KEYS = frozenset({"api_key", "apikey", "secret", "api_secret", "password", "passphrase"})


class CredentialsError(LookupError):
    """A live exchange's API key variables are not set in the environment."""


class ExchangeMode(enum.Enum):
    LIVE = "live"  # real orders with real money
    DRY_RUN = "dry_run"  # simulated fills by the PaperExchange, balances from this file


class ExchangeSettings(Table):
    """``[exchange]``: which exchange, how, and with which (named) credentials."""

    id: str = Field(default="paper", pattern=r"^[a-z0-9_]+$")
    mode: ExchangeMode = ExchangeMode.DRY_RUN
    sandbox: bool = False
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    api_secret_env: str | None = Field(default=None, pattern=ENV_NAME)
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    # Starting balances of the paper account (dry_run and the "paper" exchange).
    paper_balances: dict[str, Decimal] = Field(default_factory=lambda: {"USDT": Decimal(10000)})
    # Finished orders (with their trades) the paper account remembers; older ones are
    # forgotten, which bounds its memory and the size of each save. The database keeps
    # every fill regardless.
    paper_history: int = Field(default=1000, ge=1, le=1_000_000)
    # The paper account follows Binance's rules (fees in the asset received, a crossing
    # limit order filled at once as taker) so that a dry run predicts live trading; true
    # gives the earlier, kinder rules (fees in quote, a crossing order rests).
    paper_lenient: bool = False
    # The host's request budget (docs/exchange.md): the venue's weight limit per minute
    # (None: its published one, 6000 on Binance) and the share gridsup may use of it.
    weight_limit: int | None = Field(default=None, ge=1)
    weight_share: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            leaked = sorted(k for k in data if str(k).lower() in _SECRET_KEYS)
            if leaked:
                raise PydanticCustomError(
                    "secret_in_file",
                    "{keys}: secrets never go in grids.toml; put the key in an environment "
                    "variable and name it with api_key_env / api_secret_env",
                    {"keys": ", ".join(leaked)},
                )
        return data

    @field_validator("paper_balances")
    @classmethod
    def _balances(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in value.items():
            if not re.fullmatch(r"[A-Z0-9]{1,20}", asset):
                raise PydanticCustomError(
                    "asset",
                    "{asset}: not an asset code (1-20 capitals or digits, e.g. USDT)",
                    {"asset": echo_value(asset)},
                )
            if (
                not amount.is_finite()
                or not 0 <= amount <= MAX_BASE_AMOUNT
                or len(amount.as_tuple().digits) > MAX_DIGITS
            ):
                raise PydanticCustomError(
                    "balance",
                    "{asset}: must be between 0 and {most} with at most {digits} significant "
                    "digits, got {amount}",
                    {
                        "asset": asset,
                        "amount": echo_value(amount),
                        "most": str(MAX_BASE_AMOUNT),
                        "digits": MAX_DIGITS,
                    },
                )
        return value

    @model_validator(mode="after")
    def _live_needs_keys(self) -> ExchangeSettings:
        if self.mode is ExchangeMode.LIVE:
            if self.id == "paper":
                raise PydanticCustomError(
                    "live_paper", "mode: live needs a real exchange id, not paper", {}
                )
            if self.api_key_env is None or self.api_secret_env is None:
                raise PydanticCustomError(
                    "live_keys",
                    "mode: live needs api_key_env and api_secret_env (variable names)",
                    {},
                )
        return self

    @property
    def is_paper(self) -> bool:
        return self.id == "paper" or self.mode is ExchangeMode.DRY_RUN

    def credentials(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The API credentials read from the environment (empty for a paper exchange).

        Raises:
            CredentialsError: a named variable is unset or empty (its name is given, never a value).
        """
        env = os.environ if environ is None else environ
        out: dict[str, str] = {}
        for field, key in (
            ("api_key_env", "apiKey"),
            ("api_secret_env", "secret"),
            ("password_env", "password"),
        ):
            name = getattr(self, field)
            if name is None:
                continue
            value = env.get(name)
            if not value:
                raise CredentialsError(f"exchange.{field}: environment variable {name} is not set")
            out[key] = value
        return out
