"""Loading a grids file: TOML and the environment in, one validated :class:`GridsFile` out,
or one :class:`GridsFileError` that lists every problem."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from gridsup.config.environment import EnvSettings
from gridsup.config.exchange import ExchangeMode, ExchangeSettings
from gridsup.config.tables import (
    DatabaseSettings,
    MarketDataSettings,
    MarketDataSource,
    StreamSettings,
    WebTable,
)
from gridsup.monitoring import AlertSettings, MetricsSettings
from gridsup.strategy.echo import field_name, grid_label, problem_lines
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.ids import grid_tag
from gridsup.strategy.levels import GridLevelsError, grid_levels

M = TypeVar("M", bound=BaseModel)


class GridsFileError(ValueError):
    """A grids file cannot be used. ``problems`` holds one line per problem, each
    naming the file, the table (``grid[1] "eth"``) and the field."""

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{self.path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *self.problems]) if count > 1 else self.problems[0])


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
