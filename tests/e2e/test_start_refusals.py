"""Every refusal of `gridsup start`, with real files, real databases and real locks:
the exit code, one clear line naming the file/grid/field, no traceback, no password.

These run the command in-process (click's runner): a refusal happens before anything
is spawned, so no supervisor is ever started here.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from e2e_support import FAST_GRIDS, GridsEnv, grids_toml

from gridsup.cli import cli
from gridsup.store.locks import grid_lock

BTC_GRID: dict[str, Any] = dict(FAST_GRIDS[0])


def start(*args: str) -> Result:
    return CliRunner().invoke(cli, ["start", *args], catch_exceptions=False)


def assert_refused(result: Result, code: int, *needles: str) -> None:
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == code, text
    assert "Traceback" not in text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"


def with_grid(**changes: Any) -> dict[str, Any]:
    return {**BTC_GRID, **changes}


# (case, grids file text, exit code, what the message must name)
FILE_REFUSALS: list[tuple[str, str, int, tuple[str, ...]]] = [
    (
        "invalid_field",
        grids_toml([with_grid(upper_price=100)]),
        2,
        ('grid[0] "btc-fast"', "upper_price", "greater than lower_price"),
    ),
    (
        "not_toml",
        "[[grid]\nname =",
        2,
        ("invalid TOML",),
    ),
    (
        "no_grids",
        grids_toml([]),
        2,
        ("no enabled [[grid]]",),
    ),
    (
        "unknown_symbol",
        grids_toml([with_grid(symbol="DOGE/USDT", lower_price=0.1, upper_price=0.2)]),
        2,
        ('grid "btc-fast"', "symbol", "no market DOGE/USDT"),
    ),
    (
        "below_min_notional",
        grids_toml([with_grid(total_investment=40)]),
        2,
        ('grid "btc-fast"', "minimum notional 5 USDT"),
    ),
    (
        "below_min_amount",
        grids_toml(
            [
                with_grid(
                    name="sol-tiny",
                    symbol="SOL/USDT",
                    lower_price=10000,
                    upper_price=12000,
                    total_investment=40,
                    num_grids=5,
                )
            ]
        ),
        2,
        ('grid "sol-tiny"', "minimum amount 0.001 SOL"),
    ),
    (
        "levels_collide_on_tick",
        grids_toml([with_grid(lower_price=60000, upper_price=60000.05, num_grids=10)]),
        2,
        ('grid "btc-fast"', "levels", "tick size 0.01"),
    ),
    (
        "paper_balance_short",
        grids_toml([BTC_GRID], balances={"USDT": 100}),
        2,
        ("paper_balances", "USDT 100", "total_investment 2000"),
    ),
    (
        "replay_file_missing",
        grids_toml(
            [BTC_GRID], market_data={"source": "replay", "file": "/nonexistent/{symbol}.csv"}
        ),
        2,
        ("market_data: file", "/nonexistent/BTC-USDT.csv", "BTC/USDT"),
    ),
    (
        "paper_has_no_ticker",
        grids_toml([BTC_GRID], market_data={"source": "exchange"}),
        2,
        ("market_data: source", "paper exchange publishes no prices"),
    ),
    (
        "live_keys_unset",
        grids_toml(
            [BTC_GRID],
            exchange={
                "id": "binance",
                "mode": "live",
                "api_key_env": "GSE2E_UNSET_KEY",
                "api_secret_env": "GSE2E_UNSET_SECRET",
            },
        ),
        2,
        ("GSE2E_UNSET_KEY", "is not set"),
    ),
    (
        "secret_in_file",
        grids_toml([BTC_GRID], exchange={"id": "binance", "api_key": "hunter2"}),
        2,
        ("secrets never go in grids.toml",),
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "needles"),
    [pytest.param(t, c, n, id=case) for case, t, c, n in FILE_REFUSALS],
)
def test_a_bad_grids_file_is_refused_naming_the_problem(
    env: GridsEnv, text: str, code: int, needles: tuple[str, ...]
) -> None:
    path = env.write(text)

    result = start("--strategies", str(path))

    assert_refused(result, code, str(path), *needles)
    assert "hunter2" not in result.output + result.stderr
    assert not (env.data / "gridsup.db").exists()  # refused before touching the database


def test_a_missing_grids_file_is_refused(env: GridsEnv) -> None:
    result = start("--strategies", str(env.tmp / "nope.toml"))

    assert_refused(result, 2, "nope.toml", "cannot read")


# (case, --db URL, exit code, what the message must say)
DB_REFUSALS: list[tuple[str, str, int, tuple[str, ...]]] = [
    ("unsupported_backend", "mysql://gs:s3cret@127.0.0.1/gs", 2, ("unsupported database",)),
    ("malformed", "::not a url::", 2, ("database",)),
    (
        "server_down",
        "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/test",
        1,
        ("unavailable", "127.0.0.1:1"),
    ),
]


@pytest.mark.parametrize(
    ("url", "code", "needles"),
    [pytest.param(u, c, n, id=case) for case, u, c, n in DB_REFUSALS],
)
def test_a_bad_or_unreachable_database_is_refused_without_its_password(
    env: GridsEnv, url: str, code: int, needles: tuple[str, ...]
) -> None:
    path = env.write(grids_toml([BTC_GRID]))

    result = start("--strategies", str(path), "--db", url)

    assert_refused(result, code, *needles)
    assert "s3cret" not in result.output + result.stderr


@pytest.mark.postgres
def test_an_unknown_postgres_database_is_a_configuration_error(env: GridsEnv, pg_url: str) -> None:
    path = env.write(grids_toml([BTC_GRID]))
    missing = pg_url.rsplit("/", 1)[0] + "/gse2e_no_such_database"

    result = start("--strategies", str(path), "--db", missing)

    assert_refused(result, 2, "gse2e_no_such_database")


def test_a_cluster_on_sqlite_is_refused(env: GridsEnv) -> None:
    path = env.write(grids_toml([BTC_GRID]))

    result = start("--strategies", str(path), "--cluster", "--member", "a")

    assert_refused(result, 2, "--cluster needs a PostgreSQL database")


@pytest.mark.postgres
def test_a_cluster_in_a_dry_run_is_refused(env: GridsEnv, pg_url: str) -> None:
    path = env.write(grids_toml([BTC_GRID]))  # the paper exchange: a dry run

    result = start("--strategies", str(path), "--db", pg_url, "--cluster", "--member", "a")

    assert_refused(result, 2, "--cluster trades live only")


async def _hold_and_start(db_url: str, grid: str, args: list[str]) -> tuple[Result, bool]:
    lock = grid_lock(db_url, grid)
    assert await lock.acquire()
    try:
        # The command runs its own event loops: keep it off this one.
        result = await asyncio.to_thread(start, *args)
        return result, await lock.check()
    finally:
        await lock.release()


def test_a_grid_whose_lock_is_held_is_refused_sqlite(env: GridsEnv) -> None:
    path = env.write(grids_toml([BTC_GRID, dict(FAST_GRIDS[1])]))

    result, still_held = asyncio.run(
        _hold_and_start(env.db_url, "eth-fast", ["--strategies", str(path)])
    )

    assert_refused(result, 2, "grid eth-fast is running elsewhere")
    assert "btc-fast is running" not in result.output + result.stderr
    assert still_held  # the check never takes a held lock away


@pytest.mark.postgres
def test_a_grid_whose_lock_is_held_is_refused_postgres(env: GridsEnv, pg_url: str) -> None:
    path = env.write(grids_toml([BTC_GRID]))

    result, still_held = asyncio.run(
        _hold_and_start(pg_url, "btc-fast", ["--strategies", str(path), "--db", pg_url])
    )

    assert_refused(result, 2, "grid btc-fast is running elsewhere")
    assert still_held


def test_a_second_supervisor_in_the_same_run_directory_is_refused(env: GridsEnv) -> None:
    path = env.write(grids_toml([BTC_GRID]))
    # A live supervisor's pointer (this test process stands in for it).
    pointer: Mapping[str, object] = {
        "pid": os.getpid(),
        "run_dir": str(env.run_base / "run-x"),
        "control": "ipc:///nonexistent",
        "started_at": 0.0,
    }
    (env.run_base / "supervisor.json").write_text(json.dumps(pointer))

    result = start("--strategies", str(path))

    assert_refused(result, 2, f"pid {os.getpid()}", "already runs")


def test_an_unreachable_exchange_is_a_runtime_failure(env: GridsEnv) -> None:
    path = env.write(grids_toml([BTC_GRID], exchange={"id": "binance", "mode": "dry_run"}))

    result = start("--strategies", str(path), "--exchange-url", "http://127.0.0.1:1")

    assert_refused(result, 1, "binance", "cannot load its markets")


def test_a_refused_start_leaves_the_database_migrated_only_when_it_got_that_far(
    env: GridsEnv, tmp_path: Path
) -> None:
    path = env.write(grids_toml([BTC_GRID]))
    env.run_base.joinpath("supervisor.json").write_text(
        json.dumps({"pid": os.getpid(), "run_dir": "x", "control": "x", "started_at": 0})
    )

    result = start("--strategies", str(path))

    # The database check passed (and migrated), the supervisor check refused.
    assert_refused(result, 2, "already runs")
    assert (env.data / "gridsup.db").exists()
