"""grids.toml loading: every error at once, with file, grid and field; env overrides."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gridsup.config import (
    CredentialsError,
    ExchangeMode,
    GridsFileError,
    MarketDataSource,
    load_grids_file,
)
from gridsup.strategy.grid.config import GridSpacing

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grids.toml"

GOOD_GRID = """
[[grid]]
name = "btc"
symbol = "BTC/USDT"
lower_price = 50000
upper_price = 60000
total_investment = 1000
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GRIDSUP_DB_URL",
        "GRIDSUP_LOG_LEVEL",
        "GRIDSUP_LOG_JSON",
        "GRIDSUP_DATA_DIR",
        "GRIDSUP_EXCHANGE_MODE",
    ):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grids.toml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(GridsFileError) as info:
        load_grids_file(path)
    return info.value.problems


def test_the_example_loads_offline() -> None:
    loaded = load_grids_file(EXAMPLE)

    assert [g.symbol for g in loaded.grids] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    assert loaded.exchange.id == "paper" and loaded.exchange.is_paper
    assert loaded.market_data.source is MarketDataSource.SYNTHETIC
    assert loaded.grids[0].spacing is GridSpacing.GEOMETRIC
    assert loaded.exchange.credentials({}) == {}


def test_defaults_of_an_almost_empty_file(tmp_path: Path) -> None:
    loaded = load_grids_file(write(tmp_path, GOOD_GRID))

    assert loaded.exchange.mode is ExchangeMode.DRY_RUN and loaded.exchange.id == "paper"
    assert loaded.database_url.startswith("sqlite+aiosqlite:///")
    assert loaded.database_url.endswith("gridsup.db")
    assert loaded.grid("btc").num_grids == 20
    assert loaded.log_level == "INFO"
    assert loaded.market_source is MarketDataSource.SYNTHETIC


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [exchange]
        mode = "sometimes"

        [[grid]]
        name = "btc"
        symbol = "BTC/USDT"
        lower_price = 50000
        upper_price = 60000
        total_investment = 1000

        [[grid]]
        name = "eth"
        symbol = "ETH/USDT"
        lower_price = 2000
        upper_price = 1500
        total_investment = 1000
        num_grids = 500
        colour = "blue"
        """,
    )

    lines = problems(path)

    assert f"{path}: exchange: mode: Input should be 'live' or 'dry_run', got 'sometimes'" in lines
    assert (
        f'{path}: grid[1] "eth": upper_price: must be greater than lower_price (2000), got 1500'
        in lines
    )
    assert any(
        line.startswith(f'{path}: grid[1] "eth": num_grids: must be between 3 and 200')
        for line in lines
    )
    assert any(line.startswith(f'{path}: grid[1] "eth": colour: unknown field') for line in lines)
    assert len(lines) == 4
    with pytest.raises(GridsFileError, match="4 problems"):
        load_grids_file(path)


def test_missing_fields_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[[grid]]\nname = "x"\nsymbol = "BTC/USDT"\n')

    assert set(problems(path)) == {
        f'{path}: grid[0] "x": {field}: required field is missing'
        for field in ("lower_price", "upper_price", "total_investment")
    }


def test_duplicate_grid_names_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_GRID + GOOD_GRID)

    assert problems(path) == [
        f'{path}: grid[1] "btc": name: duplicate of grid[0]; grid names must be unique'
    ]


def test_toml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[exchange]\nid = "paper"\nmode = \n')

    (line,) = problems(path)

    assert line.startswith(f"{path}:3:") and "invalid TOML" in line


def test_an_unreadable_file_is_a_grids_file_error(tmp_path: Path) -> None:
    (line,) = problems(tmp_path / "absent.toml")

    assert "absent.toml: cannot read" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[exchange]\napi_key = "abc123"\n', "secrets never go in grids.toml"),
        ('[exchange]\nid = "binance"\nmode = "live"\n', "needs api_key_env and api_secret_env"),
        ('[exchange]\nmode = "live"\napi_key_env = "K"\napi_secret_env = "S"\n', "not paper"),
        ('[exchange]\napi_key_env = "not a name"\n', "api_key_env"),
        ("[exchange.paper_balances]\nUSDT = -5\n", "must be between 0 and 1E+18"),
        ("[exchange]\npaper_history = 0\n", "exchange: paper_history"),
        ('[market_data]\nsource = "replay"\n', "needs a file"),
        ('[market_data]\ninterval = "often"\n', "interval"),
        ('[exchanges]\nid = "paper"\n', "exchanges: unknown table"),
        ('grid = "btc"\n', "must be an array of tables"),
    ],
)
def test_section_checks(tmp_path: Path, text: str, expected: str) -> None:
    lines = problems(write(tmp_path, text))

    assert any(expected in line for line in lines), lines
    assert all("abc123" not in line for line in lines)  # a leaked key is never echoed


def test_relative_replay_files_are_relative_to_the_grids_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[market_data]\nsource = "replay"\nfile = "candles.csv"\n')

    assert load_grids_file(path).market_data.file == tmp_path / "candles.csv"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDSUP_DB_URL", "postgresql://u@127.0.0.1/test")
    monkeypatch.setenv("GRIDSUP_LOG_LEVEL", "debug")
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRIDSUP_EXCHANGE_MODE", "dry_run")
    path = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n' + GOOD_GRID)

    loaded = load_grids_file(path)

    assert loaded.database_url == "postgresql://u@127.0.0.1/test"
    assert loaded.log_level == "DEBUG"
    assert loaded.data_dir == tmp_path / "data"


def test_data_dir_decides_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(tmp_path))

    loaded = load_grids_file(write(tmp_path, GOOD_GRID))

    assert loaded.database_url == f"sqlite+aiosqlite:///{tmp_path / 'gridsup.db'}"


def test_bad_environment_values_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDSUP_LOG_LEVEL", "LOUD")

    lines = problems(write(tmp_path, GOOD_GRID))

    assert any(line.startswith("environment: GRIDSUP_LOG_LEVEL: must be one of") for line in lines)


def test_credentials_come_from_the_named_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[exchange]\nid = "binance"\nmode = "live"\n'
        'api_key_env = "MY_KEY"\napi_secret_env = "MY_SECRET"\n',
    )
    exchange = load_grids_file(path).exchange

    assert exchange.credentials({"MY_KEY": "k", "MY_SECRET": "s"}) == {"apiKey": "k", "secret": "s"}
    with pytest.raises(CredentialsError, match="MY_SECRET is not set"):
        exchange.credentials({"MY_KEY": "k"})


def test_grids_whose_order_id_tags_collide_are_refused(tmp_path: Path) -> None:
    # g39478 and g71367 share the 32-bit tag eb314231 (found by a birthday search).
    grids = "".join(
        f'[[grid]]\nname = "{name}"\nsymbol = "BTC/USDT"\nlower_price = 1\n'
        f"upper_price = 2\ntotal_investment = 10\n"
        for name in ("g39478", "g71367")
    )

    lines = problems(write(tmp_path, grids))

    assert len(lines) == 1
    assert (
        'grid[1] "g71367": name: its order-id tag eb314231 collides with grid[0] "g39478"'
        in lines[0]
    )


def test_levels_that_collide_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[grid]]\nname = "tight"\nsymbol = "BTC/USDT"\nlower_price = 1\n'
        'upper_price = "1.0000000000001"\nnum_grids = 200\ntotal_investment = 100\n',
    )

    (line,) = problems(path)

    assert line.startswith(f'{path}: grid[0] "tight": num_grids: levels ') and "collide" in line
