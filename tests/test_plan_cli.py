"""``gridsup plan``: through click's CliRunner, and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridsup.cli import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grids.toml"
D = Decimal


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDSUP_LOG_LEVEL", raising=False)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["plan", *args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grids.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_example_plans_every_grid() -> None:
    code, out, err = run(str(EXAMPLE))

    assert code == 0, err
    for name in ("btc-core", "eth-swing", "sol-range"):
        assert name in out
    assert "profit per grid" in out and "capital needed" in out
    assert "warning: the range spans 66.7 %" in out  # sol-range: 120..200


def test_json_matches_the_strategy_rules() -> None:
    code, out, _ = run(str(EXAMPLE), "--json", "--grid", "eth-swing", "--price", "ETH/USDT=3000")

    assert code == 0
    (plan,) = json.loads(out)["grids"]
    levels = [D(p) for p in plan["levels"]]
    assert len(levels) == 20 and levels[0] == D(2800) and levels[-1] == D(4000)
    assert plan["price"] == "3000" and plan["price_source"] == "--price"
    sides = [o["side"] for o in plan["orders"]]
    empty = next(i for i, p in enumerate(levels) if p >= D(3000))
    assert sides[:empty] == ["buy"] * empty
    assert sides[empty] is None  # the level nearest above the price stays empty
    assert sides[empty + 1 :] == ["sell"] * (19 - empty)
    capital = plan["capital"]
    assert D(capital["quote_needed"]) <= D(10000) * D("0.8")
    assert D(capital["quote_for_buys"]) == sum(
        D(o["amount"]) * D(o["price"]) for o in plan["orders"] if o["side"] == "buy"
    )
    low, high = D(plan["profit_per_grid"]["min"]), D(plan["profit_per_grid"]["max"])
    assert D(0) < low < high  # arithmetic: the lowest slot earns most


def test_a_price_for_every_grid_and_the_default_mid_range() -> None:
    _, out, _ = run(str(EXAMPLE), "--json", "--grid", "sol-range")
    (mid,) = json.loads(out)["grids"]
    _, out, _ = run(str(EXAMPLE), "--json", "--grid", "sol-range", "--price", "150")
    (given,) = json.loads(out)["grids"]

    assert mid["price"] == "160" and mid["price_source"] == "middle of the range"
    assert given["price"] == "150"


def test_the_replay_files_last_close_is_the_default_price(tmp_path: Path) -> None:
    (tmp_path / "candles.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        "1704067200000,100,110,95,105,1\n"
        "1704067260000,105,112,101,111,1\n"
    )
    path = write(
        tmp_path,
        """
        [market_data]
        source = "replay"
        file = "candles.csv"

        [[grid]]
        name = "x"
        symbol = "SOL/USDT"
        lower_price = 90
        upper_price = 130
        total_investment = 1000
        """,
    )

    code, out, err = run(str(path), "--json")

    assert code == 0, err
    (plan,) = json.loads(out)["grids"]
    assert D(plan["price"]) == D(111) and "candles.csv" in plan["price_source"]


def test_a_replay_template_gives_each_symbol_its_own_last_close(tmp_path: Path) -> None:
    header = "timestamp,open,high,low,close,volume\n"
    (tmp_path / "SOL-USDT.csv").write_text(header + "1704067200000,100,110,95,105,1\n")
    (tmp_path / "ETH-USDT.csv").write_text(header + "1704067200000,2000,2100,1900,2050,1\n")
    path = write(
        tmp_path,
        """
        [market_data]
        source = "replay"
        file = "{symbol}.csv"

        [[grid]]
        name = "sol"
        symbol = "SOL/USDT"
        lower_price = 90
        upper_price = 130
        total_investment = 1000

        [[grid]]
        name = "eth"
        symbol = "ETH/USDT"
        lower_price = 1800
        upper_price = 2200
        total_investment = 1000
        """,
    )

    code, out, err = run(str(path), "--json")

    assert code == 0, err
    sol, eth = json.loads(out)["grids"]
    assert (D(sol["price"]), sol["price_source"]) == (D(105), "last close of SOL-USDT.csv")
    assert (D(eth["price"]), eth["price_source"]) == (D(2050), "last close of ETH-USDT.csv")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--price", "cheap"], "--price 'cheap': expected a positive price"),
        (["--price", "-5"], "expected a positive price"),
        (["--grid", "doge"], "--grid 'doge': no such grid"),
        (["--price", "DOGE/USDT=0.1"], "--price 'DOGE/USDT': no planned grid trades that symbol"),
    ],
)
def test_bad_options_exit_2(args: list[str], expected: str) -> None:
    code, out, err = run(str(EXAMPLE), *args)

    assert code == 2
    assert expected in err and "Traceback" not in err
    assert out == ""


def test_a_bad_file_exits_2_listing_every_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[grid]]
        name = "eth"
        symbol = "ETH/USDT"
        lower_price = 2000
        upper_price = 1500
        total_investment = -1
        """,
    )

    code, _, err = run(str(path))

    assert code == 2
    assert f'{path}: grid[0] "eth": upper_price: must be greater than lower_price (2000)' in err
    assert f'{path}: grid[0] "eth": total_investment: must be greater than 0' in err


def test_levels_that_collide_exit_2(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[grid]]
        name = "tight"
        symbol = "BTC/USDT"
        lower_price = 1
        upper_price = 1.0000000000001
        num_grids = 200
        total_investment = 100
        """,
    )

    code, _, err = run(str(path))

    assert code == 2 and '"tight"' in err and "collide" in err


def test_a_real_process_reports_a_bad_file_on_stderr_with_exit_2(tmp_path: Path) -> None:
    bad = write(tmp_path, '[exchange]\nid = "paper"\nmode = \n')

    done = subprocess.run(
        [sys.executable, "-m", "gridsup", "plan", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    good = subprocess.run(
        [sys.executable, "-m", "gridsup", "plan", str(EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stderr.startswith(f"gridsup plan: {bad}:3:") and "invalid TOML" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert good.returncode == 0, good.stderr
    assert len(json.loads(good.stdout)["grids"]) == 3


def test_a_file_without_grids_says_so(tmp_path: Path) -> None:
    code, out, _ = run(str(write(tmp_path, '[exchange]\nid = "paper"\n')))

    assert code == 0
    assert "defines no [[grid]] table" in out
