"""Hostile input never crashes gridsup (hypothesis).

Random and hostile grids.toml values (huge, tiny, negative, NaN/inf, Unicode look-alikes,
very long strings, wrong types) go through ``gridsup plan`` and ``gridsup start
--dry-run``, and hostile values through the options of every command: each ends in
exit 0 (valid) or 2 (refused), never a traceback, with short lines that name the field
or option.

``start`` runs in-process (click's runner) and is always refused before a process is
spawned: a live supervisor pointer (this test's own pid) sits in its run directory, and
that check comes after every check of the grids file, the markets and the database. So
a valid file ends in "a supervisor ... already runs", exit 2, and an invalid one earlier.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsup.cli import cli

VALID_GRID: dict[str, Any] = {
    "name": "btc",
    "symbol": "BTC/USDT",
    "lower_price": 57000,
    "upper_price": 63000,
    "num_grids": 13,
    "total_investment": 2000,
}
# The longest line a refusal may print (values in it are cut to 60 characters).
MAX_LINE = 400

# -- values ----------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, 1, 1e-30, 1e-12, 1e12, 1e28, 1e30, 1e300, -1e300, 2**63, -(2**63), 10**30]
    ),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str),
)
_LOOK_ALIKES = st.sampled_from(
    ["B\u0422C/USDT", "btc/usdt", "BTCUSDT", "BTC/USD\u0422", "\u0432tc", "BTC／USDT", "ＢＴＣ"]
)
_STRINGS = st.one_of(
    _LOOK_ALIKES,
    st.text(max_size=30),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "é", "\u202e", "\x00"]), st.integers(0, 50_000)
    ),
    st.sampled_from(["", " ", "nan", "1e300", "${HOME}", "'; DROP TABLE orders; --", "{value!r}"]),
)
_WRONG_TYPES = st.one_of(
    st.booleans(),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2),
)
HOSTILE = st.one_of(_NUMBERS, _STRINGS, _WRONG_TYPES)

# field -> the names a refusal of a bad value there may give (a price out of order is
# reported on upper_price, a tiny lower_price on the levels or the order size ...).
GRID_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "symbol": ("symbol",),
    "lower_price": ("lower_price", "upper_price", "total_investment", "levels", "num_grids",
                    "order size"),
    "upper_price": ("upper_price", "levels", "num_grids", "order size"),
    "num_grids": ("num_grids", "levels", "order size"),
    "total_investment": ("total_investment", "order size", "paper_balances"),
    "spacing": ("spacing",),
    "stop_loss_pct": ("stop_loss_pct",),
    "take_profit_pct": ("take_profit_pct",),
    "reserve_pct": ("reserve_pct", "order size"),
    "fee_rate": ("fee_rate",),
    "initial_position": ("initial_position",),
    "enabled": ("enabled", "no enabled"),
}  # fmt: skip


def toml_value(value: Any) -> str:
    """``value`` as TOML (strings with escapes; floats with nan/inf)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def grids_text(grid: Mapping[str, Any], balance: Any = 100_000) -> str:
    lines = ["[exchange]", 'id = "paper"', "[exchange.paper_balances]"]
    lines.append(f"USDT = {toml_value(balance)}")
    lines.append("[[grid]]")
    lines += [f"{key} = {toml_value(value)}" for key, value in grid.items()]
    return "\n".join(lines) + "\n"


def output(result: Result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


def assert_clean(result: Result, names: tuple[str, ...], codes: tuple[int, ...] = (0, 2)) -> None:
    text = output(result)
    assert result.exception is None or isinstance(result.exception, SystemExit), text[:2000]
    assert result.exit_code in codes, text[:2000]
    assert "Traceback" not in text
    if result.exit_code == 2:
        assert max(map(len, text.splitlines()), default=0) <= MAX_LINE, text[:2000]
        assert any(name in text for name in names), (names, text[:2000])


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory for the grids files, the database and a run dir with a live pointer."""
    base = tmp_path_factory.mktemp("props")
    run_dir = base / "run"
    run_dir.mkdir(mode=0o700)
    (run_dir / "supervisor.json").write_text(
        json.dumps(
            {"pid": os.getpid(), "run_dir": str(run_dir), "control": "ipc://none", "started_at": 0}
        )
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRIDSUP_DATA_DIR", str(base / "data"))
        env.setenv("GRIDSUP_RUN_DIR", str(run_dir))
        env.delenv("GRIDSUP_DB_URL", raising=False)
        yield base


def _write(place: Path, text: str) -> Path:
    path = place / "grids.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- grids.toml --------------------------------------------------------------------------

FIELD_AND_VALUE = st.tuples(st.sampled_from(sorted(GRID_FIELDS)), HOSTILE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD_AND_VALUE)
def test_plan_refuses_a_hostile_field_naming_it(place: Path, field_value: tuple[str, Any]) -> None:
    field, value = field_value
    path = _write(place, grids_text({**VALID_GRID, field: value}))

    result = run("plan", "-s", str(path))

    assert_clean(result, GRID_FIELDS[field])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD_AND_VALUE)
def test_plan_json_refusals_are_json(place: Path, field_value: tuple[str, Any]) -> None:
    field, value = field_value
    path = _write(place, grids_text({**VALID_GRID, field: value}))

    result = run("plan", "--json", "-s", str(path))

    assert result.exit_code in (0, 2), output(result)[:2000]
    document = json.loads(result.output)
    if result.exit_code == 2:
        assert document["error"]["exit_code"] == 2
        assert any(n in document["error"]["message"] for n in GRID_FIELDS[field])
    else:
        assert document["grids"][0]["name"] == VALID_GRID["name"] or field == "name"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD_AND_VALUE)
def test_start_dry_run_refuses_a_hostile_field_before_spawning(
    place: Path, field_value: tuple[str, Any]
) -> None:
    field, value = field_value
    path = _write(place, grids_text({**VALID_GRID, field: value}))

    result = run(
        "start", "-s", str(path), "--dry-run", "--db", f"sqlite:///{place / 'p.db'}",
        "--run-dir", str(place / "run"),
    )  # fmt: skip

    # A valid file reaches the last check: the (fake) supervisor already running.
    assert_clean(result, (*GRID_FIELDS[field], "already runs"), codes=(2,))


@settings(max_examples=40, deadline=None)
@given(HOSTILE)
def test_a_hostile_paper_balance_is_refused_naming_it(place: Path, value: Any) -> None:
    path = _write(place, grids_text(VALID_GRID, balance=value))

    result = run("plan", "-s", str(path))

    assert_clean(result, ("paper_balances",))


@settings(max_examples=30, deadline=None)
@given(_STRINGS)
def test_a_hostile_unknown_key_is_named_and_cut(place: Path, key: str) -> None:
    grid = {**VALID_GRID, "x": 1}
    text = grids_text(grid).replace("x = 1", f"{toml_value(key)} = 1")
    path = _write(place, text)

    result = run("plan", "-s", str(path))

    assert_clean(result, ("unknown field", "invalid TOML", "duplicate", "Cannot overwrite"))


# -- command-line arguments --------------------------------------------------------------

ARG_TEXT = st.one_of(
    _STRINGS, _NUMBERS.map(str), st.sampled_from(["60000", "BTC/USDT=60000", "USDT=5", "0.01"])
)


def _cli_cases(place: Path, text: str) -> list[tuple[list[str], tuple[str, ...], tuple[int, ...]]]:
    grids = str(Path(__file__).parents[1] / "examples" / "grids.toml")
    missing_db = f"sqlite:///{place / 'never' / 'created.db'}"
    return [
        (["plan", "-s", grids, "--price", text], ("--price",), (0, 2)),
        (["plan", "-s", grids, "--grid", text], ("--grid",), (0, 2)),
        (["plan", "--json", "-s", grids, "--price", text], ("--price",), (0, 2)),
        (["start", "-s", grids, "--price", text, "--run-dir", str(place / "run"), "--db",
          f"sqlite:///{place / 'p.db'}"],
         ("--price", "already runs"), (2,)),
        (["start", "-s", grids, "--duration", text, "--rate-limit", text, "--run-dir",
          str(place / "run"), "--db", f"sqlite:///{place / 'p.db'}"],
         ("--duration", "--rate-limit", "already runs"), (2,)),
        (["backtest", "-s", grids, "--data", "nope.csv", "--balance", text],
         ("--balance", "nope.csv"), (2,)),
        (["backtest", "-s", grids, "--data", "nope.csv", "--price-step", text],
         ("--price-step", "nope.csv"), (2,)),
        (["backtest", "-s", grids, "--data", "nope.csv", "--symbol", text],
         ("--symbol", "nope.csv"), (2,)),
        (["orders", "--db", missing_db, "--limit", text], ("--limit", "does not exist"), (2,)),
        (["orders", "--db", text], ("--db", "database"), (2,)),
        (["status", "--timeout", text, "--run-dir", str(place / "empty")],
         ("--timeout", "no supervisor"), (2, 3)),
        (["data", "fetch", text, "1m", "--since", "2024-01-01", "--exchange", "nosuchex"],
         ("SYMBOL", "--exchange", "nosuchex"), (2,)),
        (["data", "fetch", "BTC/USDT", text, "--since", "2024-01-01", "--exchange", "nosuchex"],
         ("TIMEFRAME", "--exchange"), (2,)),
        (["data", "fetch", "BTC/USDT", "1m", "--since", text, "--exchange", "nosuchex"],
         ("--since", "--exchange"), (2,)),
        (["db", "upgrade", "--db", missing_db, "--revision", text],
         ("--revision", "does not exist"), (2,)),
    ]  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARG_TEXT)
def test_hostile_arguments_are_refused_naming_the_option(place: Path, text: str) -> None:
    if "\x00" in text:
        text = text.replace("\x00", "")  # an OS argv cannot hold NUL
    (place / "empty").mkdir(mode=0o700, exist_ok=True)
    for args, names, codes in _cli_cases(place, text):
        result = run(*args)

        assert_clean(result, names, codes)
    assert not (place / "never").exists()  # no command created the missing directory
