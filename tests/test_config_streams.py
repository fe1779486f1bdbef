"""grids.toml's ``[streams]`` table: fills and prices by websocket, their watchdog and
the polling fallback, validated (bad values: exit 2 naming file, field and value) and
carried into the run every actor gets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridsup.cli import cli
from gridsup.config import GridsFileError, StreamSettings, load_grids_file
from helpers import run_config_of

GRID = """
[[grid]]
name = "btc"
symbol = "BTC/USDT"
lower_price = 57000
upper_price = 63000
num_grids = 13
total_investment = 2000
"""


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GRIDSUP_DB_URL", "GRIDSUP_EXCHANGE_MODE", "GRIDSUP_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRIDSUP_RUN_DIR", str(tmp_path / "run"))


def write(tmp_path: Path, streams: str) -> Path:
    path = tmp_path / "grids.toml"
    path.write_text(textwrap.dedent(streams) + GRID)
    return path


def test_without_a_streams_table_the_defaults_hold(tmp_path: Path) -> None:
    run = run_config_of(write(tmp_path, ""))

    assert load_grids_file(tmp_path / "grids.toml").streams == StreamSettings()
    assert run.user_stream and run.market_stream
    assert (run.stream_keepalive_ms, run.stream_stale_ms) == (10_000, None)
    assert (run.stream_audit_s, run.stream_fallback_after, run.stream_retry_s) == (60, 3, 30)
    assert run.poll_interval_ms == 1000


def test_every_stream_setting_reaches_the_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [streams]
        user = false
        market = false
        keepalive_ms = 2000
        stale_ms = 4500
        audit_s = 120
        fallback_after = 5
        retry_s = 10
        fallback_poll_ms = 2500
        """,
    )

    run = run_config_of(path)

    assert not run.user_stream and not run.market_stream
    assert (run.stream_keepalive_ms, run.stream_stale_ms) == (2000, 4500)
    assert (run.stream_audit_s, run.stream_fallback_after, run.stream_retry_s) == (120, 5, 10)
    assert run.poll_interval_ms == 2500
    assert (
        run_config_of(path, poll_interval_ms=700).poll_interval_ms == 700
    )  # the command line wins


BAD = [
    ("keepalive_ms = 100", "streams: keepalive_ms: Input should be greater than or equal to 500"),
    ("keepalive_ms = 10_000\nstale_ms = 9000", "streams: stale_ms: must be greater than"),
    ("audit_s = nan", "streams: audit_s: Input should be a finite number, got nan"),
    ("fallback_after = 0", "streams: fallback_after: Input should be greater than or equal to"),
    ("retry_s = -1", "streams: retry_s: Input should be greater than or equal to 1, got -1"),
    ("fallback_poll_ms = 5", "streams: fallback_poll_ms: Input should be greater than or equal"),
    (
        "user = 'sometimes'",
        "streams: user: Input should be a valid boolean, unable to interpret input, "
        "got 'sometimes'",
    ),
    ("listenkey = true", "streams: listenkey: unknown field"),
]


@pytest.mark.parametrize(("line", "says"), BAD)
def test_bad_stream_settings_are_refused_naming_file_field_and_value(
    tmp_path: Path, line: str, says: str
) -> None:
    path = write(tmp_path, f"[streams]\n{line}\n")

    with pytest.raises(GridsFileError) as info:
        load_grids_file(path)
    result = CliRunner().invoke(cli, ["start", "-s", str(path), "--dry-run"])

    assert any(says in p and p.startswith(str(path)) for p in info.value.problems), info.value
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_stale_limit_names_both_values(tmp_path: Path) -> None:
    path = write(tmp_path, "[streams]\nkeepalive_ms = 10000\nstale_ms = 9000\n")

    with pytest.raises(GridsFileError) as info:
        load_grids_file(path)

    assert info.value.problems == [
        f"{path}: streams: stale_ms: must be greater than keepalive_ms (10000) (a stream is "
        "stale only once a ping went unanswered), got 9000"
    ]
