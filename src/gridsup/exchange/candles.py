"""OHLCV candle files: load and validate CSV, CSV.gz and Parquet; save them back.

A loaded frame always has exactly the columns ``timestamp`` (int64, candle open
time in ms since the epoch, UTC), ``open``, ``high``, ``low``, ``close`` and
``volume`` (float64), a fresh ``RangeIndex``, rows strictly increasing in time.
Floats are fine here: the backtest's hot loop only compares prices (design
invariant 9); ``decimal_price`` turns one back into the exact ``Decimal`` the file
held (the shortest repr of a float parsed from decimal text is that text).

This module imports pandas, so strategy actors never import it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import structlog

__all__ = [
    "CANDLE_COLUMNS",
    "PRICE_COLUMNS",
    "CandleFileError",
    "decimal_price",
    "load_candles",
    "replay_path",
    "save_candles",
    "validate_candles",
]

log = structlog.get_logger(__name__)

CANDLE_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")

# Other names for the time column, as freqtrade, Binance dumps and pandas users write it.
_TIME_ALIASES: tuple[str, ...] = ("date", "datetime", "time", "open_time")
# Epoch ms below this (1973-03-03) almost surely are seconds: refuse rather than guess.
_MIN_PLAUSIBLE_MS = 100_000_000_000

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_COMPRESSION: dict[str, str | None] = {
    ".csv": None,
    ".gz": "gzip",
    ".bz2": "bz2",
    ".xz": "xz",
    ".zst": "zstd",
}


class CandleFileError(ValueError):
    """A candle file is unreadable or its content breaks the candle rules.

    ``path`` names the file, ``problem`` says what is wrong, and ``row`` is the
    1-based data row (header not counted) when one row is at fault.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, row: int | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.row = row
        where = f" (row {row})" if row is not None else ""
        super().__init__(f"{self.path}: {problem}{where}")


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise CandleFileError(
        path,
        f"unknown file type (expected one of {', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)})",
    )


def replay_path(template: str, symbol: str) -> str:
    """The candle file of ``symbol``: ``template`` (a run's replay file, with
    ``{symbol}`` as ``BTC-USDT``, ``{base}``, ``{quote}``) with its placeholders filled in."""
    base, _, quote = symbol.partition("/")
    return template.format(symbol=symbol.replace("/", "-"), base=base, quote=quote)


def load_candles(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate one candle file (CSV, CSV.gz or Parquet, by suffix).

    The time column may be ``timestamp`` (or ``date``/``datetime``/``time``/
    ``open_time``) holding epoch milliseconds, ISO 8601 text or pandas datetimes;
    naive datetimes are taken as UTC. Extra columns are dropped.

    Raises:
        CandleFileError: the file is missing or unreadable, a column is missing,
            a value is not a number, timestamps are unsorted or duplicated, a
            price is not positive, a volume is negative, or high/low do not
            bound open and close. The message names the file and the row.
    """
    file = Path(path)
    fmt = _file_format(file)
    if not file.is_file():
        raise CandleFileError(file, "no such file")
    try:
        raw = pd.read_parquet(file) if fmt == "parquet" else pd.read_csv(file)
    except (OSError, ValueError, pd.errors.ParserError, ImportError) as exc:
        # pyarrow and the CSV parser raise a zoo of types; all mean "not a candle file".
        log.warning("candle_file_unreadable", path=str(file), error=str(exc))
        raise CandleFileError(file, f"unreadable {fmt} file: {exc}") from exc
    return validate_candles(raw, file)


def validate_candles(raw: pd.DataFrame, source: str | os.PathLike[str] = "<frame>") -> pd.DataFrame:
    """Normalise and check a frame of candles; returns a new frame (see module doc).

    Raises:
        CandleFileError: as for :func:`load_candles`, naming ``source``.
    """
    frame = raw.reset_index() if _index_is_time(raw) else raw
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    if "timestamp" not in frame.columns:
        alias = next((a for a in _TIME_ALIASES if a in frame.columns), None)
        if alias is not None:
            frame = frame.rename(columns={alias: "timestamp"})
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise CandleFileError(
            source,
            f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, raw.columns))}",
        )
    if len(frame) == 0:
        raise CandleFileError(source, "no candles")
    out = pd.DataFrame(
        {
            "timestamp": _timestamps_ms(frame["timestamp"], source),
            **{c: _floats(frame[c], c, source) for c in CANDLE_COLUMNS[1:]},
        }
    )
    _check_rows(out, source)
    return out


def _index_is_time(raw: pd.DataFrame) -> bool:
    # A frame indexed by time (e.g. resampled) carries its timestamps in the index.
    return isinstance(raw.index, pd.DatetimeIndex) and raw.index.name is not None


def _first_bad(mask: np.ndarray) -> int:
    """1-based row of the first True in ``mask``."""
    return int(np.argmax(mask)) + 1


def _timestamps_ms(col: pd.Series, source: str | os.PathLike[str]) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(col):
        return _datetimes_to_ms(col, source)
    if pd.api.types.is_bool_dtype(col):
        raise CandleFileError(source, "column timestamp holds booleans")
    if not pd.api.types.is_numeric_dtype(col):
        numeric = pd.to_numeric(col, errors="coerce")
        parsed = pd.to_datetime(col, utc=True, format="ISO8601", errors="coerce")
        bad = (numeric.isna() & parsed.isna()).to_numpy()
        if bad.any():
            row = _first_bad(bad)
            raise CandleFileError(
                source,
                f"column timestamp: {col.iloc[row - 1]!r} is neither epoch ms "
                "nor an ISO 8601 datetime",
                row,
            )
        if parsed.notna().all():
            return _datetimes_to_ms(parsed, source)
        if numeric.isna().any():
            row = _first_bad(numeric.isna().to_numpy())
            raise CandleFileError(source, "column timestamp mixes epoch ms and datetimes", row)
        col = numeric
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values != np.floor(values))
    if bad.any():
        raise CandleFileError(source, "column timestamp: not a whole number", _first_bad(bad))
    ms: np.ndarray = values.astype(np.int64)
    if ms.max() < _MIN_PLAUSIBLE_MS:
        raise CandleFileError(
            source, "column timestamp: values look like seconds, expected milliseconds"
        )
    return ms


def _datetimes_to_ms(col: pd.Series, source: str | os.PathLike[str]) -> np.ndarray:
    bad = col.isna().to_numpy()
    if bad.any():
        raise CandleFileError(source, "column timestamp: missing datetime", _first_bad(bad))
    if getattr(col.dt, "tz", None) is None:
        col = col.dt.tz_localize("UTC")
    # The unit of datetime64 varies (s/ms/us/ns) across pandas versions and sources.
    return np.asarray(col.dt.as_unit("ms").astype("int64").to_numpy(), dtype=np.int64)


def _floats(col: pd.Series, name: str, source: str | os.PathLike[str]) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col):
        raise CandleFileError(source, f"column {name} holds booleans")
    numeric = pd.to_numeric(col, errors="coerce")
    values: np.ndarray = np.asarray(numeric.to_numpy(dtype=np.float64, na_value=np.nan))
    bad = ~np.isfinite(values)
    if bad.any():
        row = _first_bad(bad)
        raise CandleFileError(
            source, f"column {name}: {col.iloc[row - 1]!r} is not a finite number", row
        )
    return values


def _check_rows(df: pd.DataFrame, source: str | os.PathLike[str]) -> None:
    ts = df["timestamp"].to_numpy()
    step = np.diff(ts)
    if (step == 0).any():
        row = _first_bad(step == 0) + 1
        raise CandleFileError(source, f"duplicate timestamp {ts[row - 1]}", row)
    if (step < 0).any():
        row = _first_bad(step < 0) + 1
        raise CandleFileError(
            source, f"timestamps not sorted: {ts[row - 1]} after {ts[row - 2]}", row
        )
    o, h, lo, c, v = (df[k].to_numpy() for k in CANDLE_COLUMNS[1:])
    checks: Sequence[tuple[np.ndarray, str]] = (
        (o <= 0, "open is not positive"),
        (h <= 0, "high is not positive"),
        (lo <= 0, "low is not positive"),
        (c <= 0, "close is not positive"),
        (v < 0, "volume is negative"),
        (h < lo, "high is below low"),
        (h < np.maximum(o, c), "high is below open or close"),
        (lo > np.minimum(o, c), "low is above open or close"),
    )
    for mask, problem in checks:
        if mask.any():
            raise CandleFileError(source, problem, _first_bad(mask))


def save_candles(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate ``df`` and write it to ``path`` (Parquet or CSV[.gz], by suffix).

    The write is atomic (a temporary file renamed into place), so a reader never
    sees half a file and a crash leaves the previous version intact.

    Raises:
        CandleFileError: the frame breaks the candle rules or the suffix is unknown.
        OSError: the file cannot be written.
    """
    target = Path(path)
    fmt = _file_format(target)
    clean = validate_candles(df, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "parquet":
            clean.to_parquet(tmp, index=False)
        else:
            # Compression follows the target's suffix, not the temporary file's name.
            clean.to_csv(tmp, index=False, compression=_COMPRESSION[target.suffix.lower()])
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def decimal_price(value: float) -> Decimal:
    """The exact decimal a float price was parsed from (shortest round-trip repr)."""
    return Decimal(repr(float(value)))
