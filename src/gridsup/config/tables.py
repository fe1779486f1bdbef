"""The small tables of a grids file: ``[market_data]``, ``[streams]``, ``[database]`` and
``[web]``, and the strict base every table model shares (unknown keys are refused)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

# An environment variable's name, as a table names one (never its value).
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketDataSource(enum.Enum):
    EXCHANGE = "exchange"  # the exchange's public ticker (network)
    REPLAY = "replay"  # an OHLCV file replayed (offline)
    SYNTHETIC = "synthetic"  # a seeded random walk (offline)


class MarketDataSettings(Table):
    """``[market_data]``: where prices come from."""

    source: MarketDataSource | None = None  # None: exchange when live, synthetic when paper
    file: Path | None = None
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    interval: str = Field(default="1m", pattern=r"^[1-9][0-9]*[smhdw]$")
    volatility: float = Field(default=0.001, ge=0, le=0.5)  # synthetic: per-step log-return sd
    # replay/synthetic: 2.0 = twice real time
    speed: float = Field(default=1.0, gt=0, le=1_000_000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _replay_needs_file(self) -> MarketDataSettings:
        if self.source is MarketDataSource.REPLAY and self.file is None:
            raise PydanticCustomError(
                "replay_file", "file: source = replay needs a file of candles", {}
            )
        return self


class StreamSettings(Table):
    """``[streams]``: fills and prices by the exchange's websocket streams, REST polling
    as their fallback (docs/configuration.md, docs/actors.md "Fills by websocket").

    Streams are used where they are verified (Binance); other venues poll whatever
    this says. The bounds keep a typo from turning a watchdog off (a keepalive of a
    day) or from polling an account into a ban (a fallback poll every millisecond).
    """

    user: bool = True  # fills by the account's user-data stream (live)
    market: bool = True  # prices by the ticker stream (market_data source "exchange")
    # Ping interval; a stream that carried nothing (no event, no pong) for longer than
    # ``stale_ms`` is a gap: reset, re-subscribed, reconciled over REST.
    keepalive_ms: int = Field(default=10_000, ge=500, le=300_000)
    stale_ms: int | None = Field(default=None, ge=1000, le=900_000)  # None: keepalive x 1.5
    audit_s: float = Field(default=60.0, ge=1, le=86_400, allow_inf_nan=False)
    fallback_after: int = Field(default=3, ge=1, le=100)  # failed subscriptions in a row
    retry_s: float = Field(default=30.0, ge=1, le=3600, allow_inf_nan=False)
    # The fallback's poll period (the shortest round over every symbol; the request
    # budget may make it longer). None: ``gridsup start --poll-interval-ms`` (1000).
    fallback_poll_ms: int | None = Field(default=None, ge=100, le=600_000)

    @model_validator(mode="after")
    def _stale_after_keepalive(self) -> StreamSettings:
        if self.stale_ms is not None and self.stale_ms <= self.keepalive_ms:
            raise PydanticCustomError(
                "stale_ms",
                "stale_ms: must be greater than keepalive_ms ({keepalive}) (a stream is "
                "stale only once a ping went unanswered), got {stale}",
                {"keepalive": self.keepalive_ms, "stale": self.stale_ms},
            )
        return self


class DatabaseSettings(Table):
    """``[database]``: None means SQLite under the data directory."""

    url: str | None = None


class WebTable(Table):
    """``[web]``: the dashboard (docs/web.md). Off unless ``listen`` is set (or
    ``gridsup start --web ADDR``); the bearer token is read from the environment
    variable named by ``token_env``, never from this file."""

    listen: str | None = None  # HOST:PORT; loopback unless told otherwise
    token_env: str = Field(default="GRIDSUP_WEB_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
