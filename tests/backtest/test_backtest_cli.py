"""``gridsup backtest`` through click's CliRunner and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridsup.cli import cli
from gridsup.commands.backtest import symbol_from_file_name
from helpers import shared_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

GRIDS = """
[exchange]
id = "paper"
mode = "dry_run"

[[grid]]
name = "btc"
symbol = "BTC/USDT"
lower_price = "38000"
upper_price = "49000"
num_grids = 20
total_investment = "10000"

[[grid]]
name = "btc-geo"
symbol = "BTC/USDT"
lower_price = "40000"
upper_price = "48000"
num_grids = 12
total_investment = "5000"
spacing = "geometric"

[[grid]]
name = "eth"
symbol = "ETH/USDT"
lower_price = "2100"
upper_price = "2700"
total_investment = "3000"
"""


@pytest.fixture
def grids_file(tmp_path: Path) -> Path:
    path = tmp_path / "grids.toml"
    path.write_text(GRIDS)
    return path


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["backtest", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("binance_BTC-USDT_1m.csv.gz", "BTC/USDT"),
        ("BTC_USDT-5m.parquet", "BTC/USDT"),
        ("sol-usdt.csv", None),
        ("candles.csv", None),
    ],
)
def test_the_symbol_comes_from_the_file_name(name: str, symbol: str | None) -> None:
    assert symbol_from_file_name(Path(name)) == symbol


def test_every_grid_of_the_files_symbol_runs_and_the_others_are_named(grids_file: Path) -> None:
    data = shared_data("binance_BTC-USDT_1m.csv.gz")
    code, out, _ = invoke("--strategies", grids_file, "--data", data, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["symbol"] == "BTC/USDT"
    assert report["ran"] == ["btc", "btc-geo"]
    assert report["not_run"] == [{"name": "eth", "symbol": "ETH/USDT"}]
    btc = report["results"][0]
    assert btc["candles"] == 44_641
    assert btc["completed_cycles"] > 0
    assert btc["initial_balances"] == {"BTC": "0", "USDT": "10000"}
    assert float(btc["total_pnl"]) == pytest.approx(
        float(btc["realized_profit"]) + float(btc["unrealized_pnl"])
    )


def test_the_table_names_the_grid_that_ran(grids_file: Path) -> None:
    data = shared_data("binance_ETH-USDT_1m.csv.gz")
    code, out, _ = invoke("--strategies", grids_file, "--data", data, "--balance", "USDT=5000")
    assert code == 0
    assert "ran grid(s) eth" in out
    assert "not run (other symbol or not selected): btc (BTC/USDT), btc-geo (BTC/USDT)" in out
    assert "completed cycles" in out
    assert "max drawdown" in out


def test_plot_writes_a_png(grids_file: Path, tmp_path: Path) -> None:
    data = shared_data("binance_BTC-USDT_1m.csv.gz")
    png = tmp_path / "out.png"
    code, _, err = invoke(
        "--strategies", grids_file, "--data", data, "--grid", "btc", "--plot", png
    )
    assert code == 0, err
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_plot_without_matplotlib_is_a_clear_error(
    grids_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    data = shared_data("binance_BTC-USDT_1d.csv.gz")
    code, _, err = invoke(
        "--strategies", grids_file, "--data", data, "--grid", "btc", "--plot", tmp_path / "p.png"
    )
    assert code == 2
    assert "matplotlib" in err and "gridsup[plot]" in err


@pytest.mark.parametrize(
    ("make_data", "extra", "expected"),
    [
        (lambda d: d / "missing_BTC-USDT.csv", [], "no such file"),
        (lambda d: _write(d / "bad_BTC-USDT.csv", "timestamp,open\n1,2\n"), [], "missing column"),
        (
            lambda d: _write(
                d / "neg_BTC-USDT.csv",
                "timestamp,open,high,low,close,volume\n1704067200000,1,2,-1,1,1\n",
            ),
            [],
            "row 1",
        ),
        (lambda d: shared_data("binance_BTC-USDT_1d.csv.gz"), ["--grid", "eth"], "trades ETH/USDT"),
        (lambda d: shared_data("binance_BTC-USDT_1d.csv.gz"), ["--grid", "nope"], "no such grid"),
        (lambda d: shared_data("binance_BNB-USDT_1d.csv.gz"), [], "no grid trades BNB/USDT"),
        (
            lambda d: shared_data("binance_BTC-USDT_1d.csv.gz"),
            ["--balance", "USDT"],
            "ASSET=AMOUNT",
        ),
        (lambda d: shared_data("binance_BTC-USDT_1d.csv.gz"), ["--symbol", "btc"], "BASE/QUOTE"),
    ],
    ids=[
        "missing",
        "no-columns",
        "negative-low",
        "other-symbol",
        "unknown-grid",
        "no-grid",
        "bad-balance",
        "bad-symbol",
    ],
)
def test_bad_input_exits_2_with_a_message_naming_it(
    grids_file: Path, tmp_path: Path, make_data, extra: list[str], expected: str
) -> None:
    data = make_data(tmp_path)
    code, out, err = invoke("--strategies", grids_file, "--data", data, *extra)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err + out


def test_a_bad_grids_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    grids = _write(
        tmp_path / "grids.toml", GRIDS.replace('upper_price = "49000"', 'upper_price = "1"')
    )
    code, _, err = invoke(
        "--strategies", grids, "--data", shared_data("binance_BTC-USDT_1d.csv.gz")
    )
    assert code == 2
    assert "grids.toml" in err and "upper_price" in err


def test_the_real_command_runs_as_a_process(grids_file: Path, tmp_path: Path) -> None:
    data = shared_data("binance_BTC-USDT_1m.csv.gz")
    png = tmp_path / "btc.png"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    gridsup = [sys.executable, "-m", "gridsup"]
    ok = subprocess.run(
        [
            *gridsup,
            "backtest",
            "--strategies",
            str(grids_file),
            "--data",
            str(data),
            "--grid",
            "btc",
            "--json",
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["results"][0]["name"] == "btc"
    assert png.read_bytes()[:8] == PNG_MAGIC
    bad = subprocess.run(
        [
            *gridsup,
            "backtest",
            "--strategies",
            str(grids_file),
            "--data",
            str(tmp_path / "none_BTC-USDT.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert bad.returncode == 2
    assert "none_BTC-USDT.csv" in bad.stderr and "Traceback" not in bad.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_refused_orders_are_reported_not_dropped(grids_file: Path) -> None:
    # 3,000 USDT cannot fund a 10,000 USDT grid: the paper account refuses orders.
    data = shared_data("binance_BTC-USDT_1d.csv.gz")
    code, out, _ = invoke(
        "--strategies",
        grids_file,
        "--data",
        data,
        "--grid",
        "btc",
        "--balance",
        "USDT=3000",
        "--json",
    )
    assert code == 0
    btc = json.loads(out)["results"][0]
    assert btc["orders_rejected"] == len(btc["rejections"]) > 0
    assert all("InsufficientFunds" in r["reason"] for r in btc["rejections"])
    assert btc["skipped_levels"]
    assert min(float(v) for v in btc["final_balances"].values()) >= 0


STOPPING_GRID = """
[[grid]]
name = "too-high"
symbol = "BTC/USDT"
lower_price = "90000"
upper_price = "99000"
num_grids = 10
total_investment = "1000"
stop_loss_pct = "0.05"
"""


def test_a_stopped_backtest_says_why(tmp_path: Path) -> None:
    data = shared_data("binance_BTC-USDT_1d.csv.gz")
    path = tmp_path / "grids.toml"
    path.write_text(STOPPING_GRID)

    code, out, _ = invoke("-s", path, "--data", data)
    json_code, json_out, _ = invoke("-s", path, "--data", data, "--json")

    # Every close in the file is below 90000 x 0.95: the grid stops on its first price.
    assert code == 0 and json_code == 0
    assert "yes: stop-loss, the price fell below 85500.00" in out
    result = json.loads(json_out)["results"][0]
    assert (result["stopped"], result["stop_reason"]) == (True, "stop_loss")
