"""grids.toml + environment -> validated settings (:class:`GridsFile`).

A grids file holds an ``[exchange]`` table, optional ``[market_data]``, ``[database]``,
``[streams]``, ``[metrics]``, ``[alerts]`` and ``[web]`` tables, and any number of
``[[grid]]`` tables (each a :class:`GridConfig`). Loading
checks everything and reports *every* problem at once, one line each::

    grids.toml: grid[1] "eth": upper_price: must be greater than lower_price (2000)

API keys never live in the file: ``api_key_env``/``api_secret_env`` name the environment
variables that hold them. A few settings can be overridden from the environment
(``GRIDSUP_DB_URL``, ``GRIDSUP_LOG_LEVEL``, ``GRIDSUP_LOG_JSON``, ``GRIDSUP_DATA_DIR``,
``GRIDSUP_EXCHANGE_MODE``); see docs/configuration.md.
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridsup.monitoring import AlertSettings, MetricsSettings
from gridsup.strategy.echo import echo_value, field_name, grid_label, problem_lines
from gridsup.strategy.grid_config import MAX_BASE_AMOUNT, MAX_DIGITS, GridConfig
from gridsup.strategy.ids import grid_tag
from gridsup.strategy.levels import GridLevelsError, grid_levels

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
M = TypeVar("M", bound=BaseModel)
_SECRET_KEYS = frozenset({"api_key", "apikey", "secret", "api_secret", "password", "passphrase"})


class GridsFileError(ValueError):
    """A grids file cannot be used. ``problems`` holds one line per problem, each
    naming the file, the table (``grid[1] "eth"``) and the field."""

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{self.path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *self.problems]) if count > 1 else self.problems[0])


class CredentialsError(LookupError):
    """A live exchange's API key variables are not set in the environment."""


class ExchangeMode(enum.Enum):
    LIVE = "live"  # real orders with real money
    DRY_RUN = "dry_run"  # simulated fills by the PaperExchange, balances from this file


class MarketDataSource(enum.Enum):
    EXCHANGE = "exchange"  # the exchange's public ticker (network)
    REPLAY = "replay"  # an OHLCV file replayed (offline)
    SYNTHETIC = "synthetic"  # a seeded random walk (offline)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExchangeSettings(_Table):
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


class MarketDataSettings(_Table):
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


class StreamSettings(_Table):
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


class DatabaseSettings(_Table):
    """``[database]``: None means SQLite under the data directory."""

    url: str | None = None


class WebTable(_Table):
    """``[web]``: the dashboard (docs/web.md). Off unless ``listen`` is set (or
    ``gridsup start --web ADDR``); the bearer token is read from the environment
    variable named by ``token_env``, never from this file."""

    listen: str | None = None  # HOST:PORT; loopback unless told otherwise
    token_env: str = Field(default="GRIDSUP_WEB_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class EnvSettings(BaseSettings):
    """Overrides from the environment (``GRIDSUP_*``); they win over the file."""

    model_config = SettingsConfigDict(env_prefix="GRIDSUP_", extra="ignore")

    db_url: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
    data_dir: Path | None = None
    exchange_mode: ExchangeMode | None = None

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise PydanticCustomError(
                "log_level",
                "must be one of {levels}, got {value}",
                {"levels": ", ".join(LOG_LEVELS), "value": value},
            )
        return value.upper()


class GridsFile(BaseModel):
    """Everything a grids file and the environment say, validated."""

    model_config = ConfigDict(frozen=True)

    path: Path
    exchange: ExchangeSettings
    market_data: MarketDataSettings
    database: DatabaseSettings
    grids: tuple[GridConfig, ...]
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertSettings = AlertSettings()
    web: WebTable = WebTable()
    streams: StreamSettings = StreamSettings()
    log_level: str = "INFO"
    log_json: bool = False
    data_dir: Path | None = None

    @property
    def database_url(self) -> str:
        """``[database] url``, else SQLite in the data directory."""
        if self.database.url:
            return self.database.url
        base = self.data_dir
        if base is None:
            xdg = os.environ.get("XDG_DATA_HOME")
            base = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "gridsup"
        return f"sqlite+aiosqlite:///{base / 'gridsup.db'}"

    @property
    def market_source(self) -> MarketDataSource:
        """``[market_data] source``; unset means the exchange when live, synthetic when paper."""
        if self.market_data.source is not None:
            return self.market_data.source
        if self.exchange.mode is ExchangeMode.LIVE:
            return MarketDataSource.EXCHANGE
        return MarketDataSource.SYNTHETIC

    def grid(self, name: str) -> GridConfig:
        """The grid called ``name``.

        Raises:
            KeyError: no such grid.
        """
        for grid in self.grids:
            if grid.name == name:
                return grid
        raise KeyError(name)


_TOP_LEVEL = {
    "exchange",
    "market_data",
    "database",
    "grid",
    "metrics",
    "alerts",
    "web",
    "streams",
}


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> GridsFileError:
    text = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", text)
    reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", text) or "invalid TOML"
    where = f"{path}:{match.group(1)}:{match.group(2)}" if match else f"{path}"
    return GridsFileError(path, [f"{where}: invalid TOML: {reason}"])


def load_grids_file(path: str | Path, environ_overrides: bool = True) -> GridsFile:
    """Read and validate a grids file, reporting every problem at once.

    Relative ``[market_data] file`` paths are taken relative to the grids file.

    Raises:
        GridsFileError: the file cannot be read, is not TOML, or has invalid values
            (one line per problem: file, table, field, what is wrong).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc) from None
    except UnicodeDecodeError:
        raise GridsFileError(path, [f"{path}: not a UTF-8 text file"]) from None
    except OSError as exc:
        raise GridsFileError(path, [f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_grids(raw, path, environ_overrides)


def parse_grids(raw: Mapping[str, Any], path: Path, environ_overrides: bool = True) -> GridsFile:
    """Validate an already parsed grids document (see :func:`load_grids_file`).

    Raises:
        GridsFileError: any invalid value (all are listed).
    """
    problems: list[str] = []
    for key in sorted(set(raw) - _TOP_LEVEL):
        problems.append(
            f"{path}: {field_name(key)}: unknown table or key "
            "(expected [exchange], [market_data], [database], [metrics], [alerts], [web], "
            "[streams], [[grid]])"
        )

    def table(name: str) -> Mapping[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, Mapping):
            problems.append(f"{path}: {name}: must be a table ([{name}])")
            return {}
        return value

    exchange = _validate(ExchangeSettings, table("exchange"), f"{path}: exchange", problems)
    market_data = _validate(
        MarketDataSettings, table("market_data"), f"{path}: market_data", problems
    )
    database = _validate(DatabaseSettings, table("database"), f"{path}: database", problems)
    metrics = _validate(MetricsSettings, table("metrics"), f"{path}: metrics", problems)
    alerts = _validate(AlertSettings, table("alerts"), f"{path}: alerts", problems)
    web = _validate(WebTable, table("web"), f"{path}: web", problems)
    streams = _validate(StreamSettings, table("streams"), f"{path}: streams", problems)
    grids = _validate_grids(raw.get("grid", []), path, problems)

    env = EnvSettings.model_construct()
    if environ_overrides:
        try:
            env = EnvSettings()
        except ValidationError as exc:
            for item in exc.errors():
                name = "GRIDSUP_" + "_".join(str(p) for p in item["loc"]).upper()
                problems.append(f"environment: {name}: {item['msg']}")
    if problems:
        raise GridsFileError(path, problems)
    assert exchange is not None and market_data is not None and database is not None
    assert metrics is not None and alerts is not None and web is not None
    assert streams is not None
    if env.exchange_mode is not None:
        exchange = exchange.model_copy(update={"mode": env.exchange_mode})
    if env.db_url:
        database = database.model_copy(update={"url": env.db_url})
    if market_data.file is not None and not market_data.file.is_absolute():
        market_data = market_data.model_copy(update={"file": path.parent / market_data.file})
    return GridsFile(
        path=path,
        exchange=exchange,
        market_data=market_data,
        database=database,
        grids=tuple(grids),
        metrics=metrics,
        alerts=alerts,
        web=web,
        streams=streams,
        log_level=env.log_level,
        log_json=env.log_json,
        data_dir=env.data_dir,
    )


def _validate(model: type[M], data: Mapping[str, Any], where: str, problems: list[str]) -> M | None:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        problems.extend(problem_lines(where, exc))
        return None


def _validate_grids(tables: Any, path: Path, problems: list[str]) -> list[GridConfig]:
    if not isinstance(tables, list):
        problems.append(f"{path}: grid: must be an array of tables ([[grid]])")
        return []
    grids: list[GridConfig] = []
    seen: dict[str, int] = {}
    tags: dict[str, tuple[int, str]] = {}
    for index, table in enumerate(tables):
        name = table.get("name") if isinstance(table, Mapping) else None
        where = (
            f"{path}: grid[{index}] {grid_label(name)}"
            if isinstance(name, str)
            else f"{path}: grid[{index}]"
        )
        if not isinstance(table, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    f"{where}: name: duplicate of grid[{seen[name]}]; grid names must be unique"
                )
            else:
                seen[name] = index
                tag = grid_tag(name) if name else ""
                if tag and tag in tags and tags[tag][1] != name:
                    other = tags[tag]
                    problems.append(
                        f"{where}: name: its order-id tag {tag} collides with "
                        f"grid[{other[0]}] {grid_label(other[1])}; rename one"
                    )
                tags.setdefault(tag, (index, name))
        grid = _validate(GridConfig, table, where, problems)
        if grid is None:
            continue
        try:
            # Valid fields can still make levels that collide (a very narrow range cut
            # into many levels); the market's tick size, known later, is checked at start.
            grid_levels(grid)
        except GridLevelsError as exc:
            problems.append(f"{where}: num_grids: {exc}")
            continue
        grids.append(grid)
    return grids
