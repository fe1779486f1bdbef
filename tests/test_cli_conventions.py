"""The conventions every command follows (docs/cli.md): the grids file as -s/--strategies,
--json errors as JSON with the same exit codes, read-only commands that create no file,
bounded numbers refused naming the field and value, values cut when echoed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gridsup.cli import cli

EXAMPLE = Path(__file__).parents[1] / "examples" / "grids.toml"

GRID = """
[[grid]]
name = "btc"
symbol = "BTC/USDT"
lower_price = {lower}
upper_price = {upper}
num_grids = {num_grids}
total_investment = {investment}
"""


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "data"
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(data))
    monkeypatch.setenv("GRIDSUP_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("GRIDSUP_DB_URL", raising=False)
    yield data


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def grids(tmp_path: Path, **values: object) -> Path:
    fields = {"lower": 57000, "upper": 63000, "num_grids": 13, "investment": 2000, **values}
    path = tmp_path / "grids.toml"
    path.write_text(GRID.format(**fields))
    return path


# (field given, value, what the message must say): the values of issue 12 that crashed.
EXTREMES = [
    ("investment", "1e28", 'grid[0] "btc": total_investment: must be between 1E-8 and 1E+12'),
    ("investment", "1e300", "total_investment: must be between 1E-8 and 1E+12 (an amount of"),
    ("lower", "1e-30", "lower_price: must be between 1E-12 and 1E+12 (a price), got 1E-30"),
    ("upper", "1e30", "upper_price: must be between 1E-12 and 1E+12 (a price), got 1E+30"),
    ("num_grids", "100000000000000000000", "num_grids: must be between 3 and 200 levels"),
    ("lower", '"0.1234567890123456789"', "lower_price: has more than 18 significant digits"),
    ("investment", "nan", "total_investment: Input should be a finite number, got nan"),
]


@pytest.mark.parametrize(("field", "value", "says"), EXTREMES)
@pytest.mark.parametrize("command", ["plan", "start"])
def test_extreme_numbers_are_refused_naming_field_and_value(
    tmp_path: Path, command: str, field: str, value: str, says: str
) -> None:
    path = grids(tmp_path, **{field: value})

    result = run(command, "-s", str(path), *(["--dry-run"] if command == "start" else []))

    assert result.exit_code == 2, result.output + result.stderr
    assert says in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("symbol", "shown"),
    [("BTCUSDT", "'BTCUSDT'"), ("btc/usdt", "'btc/usdt'"), ("B\u0422C/USDT", "'B\\u0422C/USDT'")],
)
def test_a_bad_symbol_is_shown_not_a_template(tmp_path: Path, symbol: str, shown: str) -> None:
    path = tmp_path / "grids.toml"
    path.write_text(GRID.format(lower=1, upper=2, num_grids=3, investment=10).replace(
        'symbol = "BTC/USDT"', f'symbol = "{symbol}"'
    ))  # fmt: skip

    result = run("plan", str(path))

    assert result.exit_code == 2
    assert f"symbol: must be BASE/QUOTE in capitals, e.g. BTC/USDT, got {shown}" in result.stderr
    assert "{value" not in result.stderr


def test_a_50_kb_name_is_cut_when_echoed(tmp_path: Path) -> None:
    path = grids(tmp_path)
    path.write_text(path.read_text().replace('name = "btc"', f'name = "{"n" * 50_000}"'))

    result = run("plan", "-s", str(path))

    assert result.exit_code == 2
    assert "(50000 characters)" in result.stderr
    assert len(result.stderr) < 1000


def test_levels_that_collide_name_the_rounding_not_none(tmp_path: Path) -> None:
    path = grids(tmp_path, lower=999999999999, upper="1e12", num_grids=200)

    result = run("plan", "-s", str(path))

    assert result.exit_code == 2
    assert "after rounding to 12 significant digits" in result.stderr
    assert "None" not in result.stderr


def test_plan_takes_the_file_as_s_or_as_an_argument(tmp_path: Path) -> None:
    by_option = run("plan", "--json", "-s", str(EXAMPLE))
    by_argument = run("plan", "--json", str(EXAMPLE))
    both = run("plan", str(EXAMPLE), "--strategies", str(tmp_path / "other.toml"))
    neither = run("plan")

    assert by_option.exit_code == by_argument.exit_code == 0
    assert json.loads(by_option.output) == json.loads(by_argument.output)
    assert both.exit_code == 2 and "two grids files" in both.stderr
    assert neither.exit_code == 2 and "-s/--strategies" in neither.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["status", "--json"], 3, "no supervisor is running"),
        (["plan", "--json", "-s", "nope.toml"], 2, "nope.toml: cannot read"),
        (["plan", "--json", "--price"], 2, "requires an argument"),
        (["orders", "--json"], 2, "does not exist"),
        (["stats", "--json", "--db", "notaurl"], 2, "--db: malformed database URL"),
        (["backtest", "--json", "-s", str(EXAMPLE), "--data", "x.csv", "--price-step", "nan"], 2,
         "--price-step"),
    ],
)  # fmt: skip
def test_json_errors_are_json_with_the_same_exit_code(
    args: list[str], code: int, says: str, data_dir: Path
) -> None:
    result = run(*args)

    document = json.loads(result.output)
    assert result.exit_code == code
    assert document["error"]["exit_code"] == code
    assert document["error"]["command"] == args[0]
    assert says in document["error"]["message"]


@pytest.mark.parametrize("command", ["orders", "trades", "stats"])
def test_read_only_commands_create_no_database(command: str, data_dir: Path) -> None:
    result = run(command)

    assert result.exit_code == 2
    assert "does not exist" in result.stderr and "gridsup db upgrade" in result.stderr
    assert not data_dir.exists()


def test_db_current_of_no_database_says_empty_and_creates_nothing(data_dir: Path) -> None:
    result = run("db", "current")

    assert result.exit_code == 0 and result.output.startswith("empty")
    assert not data_dir.exists()


def test_a_sqlite_url_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'gridsup.db'}"

    upgrade = run("db", "upgrade", "--db", url)
    start = run("start", "-s", str(EXAMPLE), "--dry-run", "--db", url)

    for result in (upgrade, start):
        assert result.exit_code == 2
        assert "--db: directory" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_db_upgrade_creates_the_default_database_and_says_so(data_dir: Path) -> None:
    first = run("db", "upgrade")
    second = run("db", "upgrade")

    assert first.exit_code == 0 and "created gridsup's tables" in first.output
    assert second.exit_code == 0 and "already at revision" in second.output
    assert (data_dir / "gridsup.db").is_file()


def test_an_unknown_revision_is_refused_before_the_database_is_created(data_dir: Path) -> None:
    result = run("db", "upgrade", "--revision", "bogus")

    assert result.exit_code == 2 and "--revision 'bogus': no such migration" in result.stderr
    assert not data_dir.exists()


def test_status_creates_no_run_directory(tmp_path: Path) -> None:
    result = run("status", "--run-dir", str(tmp_path / "absent"))

    assert result.exit_code == 3 and "no supervisor is running" in result.stderr
    assert not (tmp_path / "absent").exists()
