"""``gridsup data fetch`` through the real ccxt client against the loopback Binance
exchange (a child process on 127.0.0.1), serving real BTC/USDT candles."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from click.testing import CliRunner

from gridsup.cli import cli
from gridsup.exchange.candles import load_candles
from helpers import shared_data
from loopback_process import loopback_process

CANDLES = 1200


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[str]:
    """The loopback exchange's base URL (public endpoints need no key, but it wants one)."""
    env = {**os.environ, "LOOPBACK_API_KEY": "test-key", "LOOPBACK_API_SECRET": "test-secret"}
    with loopback_process(env=env, log=tmp_path / "loopback.err") as url:
        yield url


def feed(url: str, frame: pd.DataFrame) -> None:
    """Post each candle to the loopback exchange's admin route (one keep-alive socket)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    for row in frame.itertuples():
        body = json.dumps(
            {
                "symbol": "BTC/USDT",
                "timestamp": int(row.timestamp),
                "open": repr(row.open),
                "high": repr(row.high),
                "low": repr(row.low),
                "close": repr(row.close),
                "volume": repr(row.volume),
            }
        )
        conn.request("POST", "/admin/candle", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    conn.close()


def test_fetch_through_ccxt_from_the_loopback_exchange(loopback: str, tmp_path: Path) -> None:
    frame = load_candles(shared_data("binance_BTC-USDT_1m.csv.gz")).head(CANDLES)
    feed(loopback, frame)
    args = ["data", "fetch", "BTC/USDT", "1m", "--since", "2024-01-01",
            "--until", "2024-01-01T20:00", "--exchange-url", loopback,
            "--cache-dir", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    assert f"{CANDLES} candles from 2024-01-01 00:00 to 2024-01-01 19:59" in result.output
    cached = pd.read_parquet(tmp_path / "binance" / "BTC-USDT" / "1m.parquet")
    pd.testing.assert_frame_equal(cached, frame.reset_index(drop=True))
    unknown = CliRunner().invoke(
        cli, ["data", "fetch", "NOPE/USDT", *args[3:]], catch_exceptions=False
    )
    assert unknown.exit_code == 2 and "unknown market" in unknown.stderr
