"""Candle files: the real Binance files load, every rule violation is named with
its file and row, and save/load round-trips."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridsup.exchange.candles import (
    CANDLE_COLUMNS,
    CandleFileError,
    decimal_price,
    load_candles,
    save_candles,
)
from helpers import shared_data

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD_ROWS = [
    "1704067200000,100,110,90,105,1.5\n",
    "1704067260000,105,106,100,101,2\n",
    "1704067320000,101,103,99,102,0\n",
]


def write_csv(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "c.csv") -> Path:
    path = tmp_path / name
    text = header + "".join(rows)
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("binance_BTC-USDT_1h.csv.gz", 58_419),
        ("binance_SOL-USDT_1m.csv.gz", 4_320),
        ("binance_ETH-USDT_1d.csv.gz", 367),
    ],
)
def test_real_files_load_with_exact_schema(name: str, rows: int) -> None:
    df = load_candles(shared_data(name))

    assert list(df.columns) == list(CANDLE_COLUMNS)
    assert len(df) == rows
    assert df["timestamp"].dtype == np.int64
    assert all(df[c].dtype == np.float64 for c in CANDLE_COLUMNS[1:])
    assert df["timestamp"].is_monotonic_increasing and df["timestamp"].is_unique


def test_first_btc_hour_is_binance_first_candle() -> None:
    df = load_candles(shared_data("binance_BTC-USDT_1h.csv.gz"))

    first = df.iloc[0]
    assert int(first["timestamp"]) == 1502942400000  # 2017-08-17 04:00 UTC
    assert decimal_price(first["open"]) == Decimal("4261.48")


@pytest.mark.parametrize("name", ["c.csv", "c.csv.gz"])
def test_csv_and_gzip_load(tmp_path: Path, name: str) -> None:
    df = load_candles(write_csv(tmp_path, GOOD_ROWS, name=name))

    assert df["timestamp"].tolist() == [1704067200000, 1704067260000, 1704067320000]
    assert df["close"].tolist() == [105.0, 101.0, 102.0]


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"],
        ["2024-01-01 00:00:00", "2024-01-01 00:01:00", "2024-01-01 00:02:00"],
        ["2024-01-01T01:00:00+01:00", "2024-01-01T01:01:00+01:00", "2024-01-01T01:02:00+01:00"],
    ],
)
def test_iso_datetimes_become_epoch_ms_utc(tmp_path: Path, stamps: list[str]) -> None:
    rows = [f"{s},{r.split(',', 1)[1]}" for s, r in zip(stamps, GOOD_ROWS, strict=True)]

    df = load_candles(write_csv(tmp_path, rows))

    assert df["timestamp"].tolist() == [1704067200000, 1704067260000, 1704067320000]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_parquet_with_datetime_column_and_date_alias(tmp_path: Path, unit: str) -> None:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime([1704067200000, 1704067260000], unit="ms").as_unit(unit),
            "open": [1.0, 2.0],
            "high": [2.0, 3.0],
            "low": [0.5, 1.5],
            "close": [1.5, 2.5],
            "volume": [10.0, 11.0],
            "extra": ["a", "b"],
        }
    )
    path = tmp_path / "c.parquet"
    frame.to_parquet(path)

    df = load_candles(path)

    assert list(df.columns) == list(CANDLE_COLUMNS)
    assert df["timestamp"].tolist() == [1704067200000, 1704067260000]


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "out.csv.gz", "sub/dir/out.pq"])
def test_save_then_load_round_trips(tmp_path: Path, name: str) -> None:
    original = load_candles(write_csv(tmp_path, GOOD_ROWS))

    written = save_candles(original, tmp_path / name)

    pd.testing.assert_frame_equal(load_candles(written), original)
    assert [p.name for p in written.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_save_refuses_bad_frame_and_leaves_no_file(tmp_path: Path) -> None:
    bad = pd.DataFrame({"timestamp": [1704067200000], "open": [1.0]})

    with pytest.raises(CandleFileError, match="missing column"):
        save_candles(bad, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


# (rows, header, expected message fragment, expected row)
BAD_FILES = [
    (GOOD_ROWS, "timestamp,open,high,low,close\n", "missing column(s) volume", None),
    (GOOD_ROWS, "ts,open,high,low,close,volume\n", "missing column(s) timestamp", None),
    ([], HEADER, "no candles", None),
    ([GOOD_ROWS[0], GOOD_ROWS[0]], HEADER, "duplicate timestamp 1704067200000", 2),
    ([GOOD_ROWS[1], GOOD_ROWS[0]], HEADER, "timestamps not sorted", 2),
    ([GOOD_ROWS[0], "1704067260000,0,106,100,101,2\n"], HEADER, "open is not positive", 2),
    (["1704067200000,100,110,-1,105,1\n"], HEADER, "low is not positive", 1),
    (["1704067200000,100,110,90,105,-1\n"], HEADER, "volume is negative", 1),
    (["1704067200000,100,89,90,88,1\n"], HEADER, "high is below low", 1),
    (["1704067200000,100,104,90,105,1\n"], HEADER, "high is below open or close", 1),
    (["1704067200000,100,110,101,105,1\n"], HEADER, "low is above open or close", 1),
    ([GOOD_ROWS[0], "1704067260000,abc,106,100,101,2\n"], HEADER, "column open", 2),
    ([GOOD_ROWS[0], "1704067260000,,106,100,101,2\n"], HEADER, "column open", 2),
    (["1704067200.5,100,110,90,105,1\n"], HEADER, "not a whole number", 1),
    (["1704067200,100,110,90,105,1\n"], HEADER, "look like seconds", None),
    ([GOOD_ROWS[0], "yesterday,100,110,90,105,1\n"], HEADER, "neither epoch ms nor an ISO", 2),
]


@pytest.mark.parametrize(("rows", "header", "fragment", "row"), BAD_FILES)
def test_bad_content_names_file_problem_and_row(
    tmp_path: Path, rows: list[str], header: str, fragment: str, row: int | None
) -> None:
    path = write_csv(tmp_path, rows, header=header)

    with pytest.raises(CandleFileError) as info:
        load_candles(path)

    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    assert fragment in info.value.problem
    assert info.value.row == row


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("c.json", b"{}", "unknown file type"),
        ("c.parquet", b"not parquet at all", "unreadable parquet file"),
        ("c.csv.gz", b"not gzip", "unreadable csv file"),
    ],
)
def test_unreadable_files_raise_candle_file_error(
    tmp_path: Path, name: str, content: bytes, fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(CandleFileError, match=fragment):
        load_candles(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CandleFileError, match="no such file"):
        load_candles(tmp_path / "absent.csv")


@pytest.mark.parametrize("text", ["42283.58", "0.00001234", "73777", "1e-8"])
def test_decimal_price_recovers_file_text(text: str) -> None:
    assert decimal_price(float(text)) == Decimal(text)
