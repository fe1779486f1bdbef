"""What an operator runs around a real `gridsup start`: `gridsup health` in each state,
alerts delivered through apprise to a real receiver, and `gridsup export` whose totals
equal `gridsup stats` after a paper run with fees."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from decimal import Decimal
from typing import Any

import pandas as pd
from e2e_books import read_database
from e2e_run import FAST_ARGS, all_trading, fast_grids_file, names, wait_for
from e2e_support import FAST_GRIDS, GridsEnv

from alert_receiver import Receiver

TIMEOUT = 90.0
# Starts at 3000, below its stop-loss (3100 * 0.99 = 3069): stopped on its first price.
STOPPED_GRID = {
    "name": "eth-stop",
    "symbol": "ETH/USDT",
    "lower_price": 3100,
    "upper_price": 3300,
    "num_grids": 5,
    "total_investment": 500,
    "stop_loss_pct": "0.01",
}


def health(env: GridsEnv, *args: str) -> tuple[int, dict[str, Any]]:
    done = env.gridsup("health", "--json", *args, timeout=30)
    return done.returncode, json.loads(done.stdout)


def test_health_exit_codes_and_export_totals_equal_stats(env: GridsEnv) -> None:
    code, body = health(env)
    assert (code, body["status"]) == (2, "down") and "no supervisor" in body["problems"][0]
    assert not env.data.exists() or not (env.data / "gridsup.db").exists()

    run = env.start(fast_grids_file(env), *FAST_ARGS)
    try:
        wait_for(lambda: all_trading(env, names(), min_cycles=1), TIMEOUT, "cycles", run)
        code, body = health(env)
        assert (code, body["status"], body["problems"]) == (0, "healthy", [])
        assert body["supervisor_pid"] == run.pid

        os.kill(run.pid, signal.SIGSTOP)  # a wedged supervisor answers nothing
        try:
            code, body = health(env, "--timeout", "1")
        finally:
            os.kill(run.pid, signal.SIGCONT)
        assert (code, body["status"]) == (2, "down") and "did not answer" in body["problems"][0]
    finally:
        run.interrupt()
        assert run.wait(60) == 0, run.stderr()[-3000:]

    stats = json.loads(env.gridsup("stats", "--json").stdout)
    out = env.tmp / "round_trips.csv"
    done = env.gridsup("export", "round-trips", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["trades"] == stats["trades"] >= len(names())
    assert Decimal(summary["total_profit"]) == Decimal(stats["total_profit"])
    assert Decimal(summary["fees"]) == Decimal(stats["fees"]) > 0

    rows = list(csv.DictReader(out.open()))
    assert len(rows) == stats["trades"]
    assert sum(Decimal(r["realized_profit"]) for r in rows) == Decimal(stats["total_profit"])
    for r in rows:  # each row adds up: proceeds - cost basis - fee = profit
        assert Decimal(r["proceeds"]) - Decimal(r["cost_basis"]) - Decimal(r["fee"]) == Decimal(
            r["realized_profit"]
        )
        assert r["fee_asset"] == "USDT" and r["closed"] >= r["opened"]

    parquet = env.tmp / "round_trips.parquet"
    assert env.gridsup("export", "round-trips", "-o", str(parquet)).returncode == 0
    frame = pd.read_parquet(parquet)
    assert len(frame) == stats["trades"]
    assert sum(frame["realized_profit"]) == Decimal(stats["total_profit"])

    fills = env.gridsup("export", "fills")
    assert fills.returncode == 0, fills.stderr
    table = list(csv.DictReader(io.StringIO(fills.stdout)))
    # Every stored fill, once (a round trip's entry buy may serve several sells, so the
    # count is the database's, not twice the round trips).
    assert len(table) == len(read_database(env.db_url, names()).fills) > stats["trades"]
    for r in table:  # each fee in the asset received (base for a buy), valued in quote
        base, price = r["symbol"].split("/")[0], Decimal(r["price"])
        assert r["fee_asset"] == (base if r["side"] == "buy" else "USDT")
        in_quote = Decimal(r["fee"]) * (price if r["fee_asset"] == base else 1)
        assert Decimal(r["fee_quote"]) == in_quote
        assert Decimal(r["value"]) == Decimal(r["amount"]) * price


def test_export_never_creates_a_database(env: GridsEnv) -> None:
    done = env.gridsup("export", "fills")

    assert done.returncode == 2 and "no database" in done.stderr
    assert not (env.data / "gridsup.db").exists()


def test_a_stopped_grid_degrades_health_and_alerts_once(env: GridsEnv) -> None:
    receiver = Receiver()
    grids = (FAST_GRIDS[0], STOPPED_GRID)
    run = env.start(
        fast_grids_file(env, grids),
        *FAST_ARGS,
        extra_env={"GRIDSUP_ALERT_URLS": receiver.url},
    )
    try:
        wait_for(lambda: all_trading(env, ["btc-fast"]), TIMEOUT, "btc-fast trading", run)
        wait_for(
            lambda: any("stop_loss_hit" in t for t in receiver.titles()),
            TIMEOUT,
            "the stop-loss alert",
            run,
        )
        code, body = health(env)
        assert (code, body["status"]) == (1, "degraded")
        assert body["problems"] == ["grid eth-stop is stopped"]
        wait_for(lambda: all_trading(env, ["btc-fast"], min_cycles=1), TIMEOUT, "trading on", run)
    finally:
        run.interrupt()
        code = run.wait(60)
        receiver.close()
    assert code == 0, run.stderr()[-3000:]
    stop_loss = [
        b for t, b in zip(receiver.titles(), receiver.bodies(), strict=True) if "stop_loss_hit" in t
    ]
    assert len(stop_loss) == 1 and "eth-stop" in stop_loss[0]
    assert receiver.url not in run.stderr() + run.stdout()  # URLs carry tokens


def test_an_alert_service_that_hangs_does_not_slow_trading(env: GridsEnv) -> None:
    """Every alert request hangs: the grid that stops raises one, the others trade on
    and the supervisor keeps answering."""
    hanging = Receiver(hold=True)
    run = env.start(
        fast_grids_file(env, (FAST_GRIDS[0], STOPPED_GRID)),
        *FAST_ARGS,
        extra_env={"GRIDSUP_ALERT_URLS": hanging.url},
    )
    try:
        assert hanging.arrived.wait(TIMEOUT), run.stderr()[-3000:]
        wait_for(lambda: all_trading(env, ["btc-fast"], min_cycles=2), TIMEOUT, "trading on", run)
        code, body = health(env, "--timeout", "5")
        assert (code, body["problems"]) == (1, ["grid eth-stop is stopped"])
        assert not hanging.release.is_set() and len(hanging.messages) == 1
    finally:
        run.interrupt()
        code = run.wait(60)
        hanging.close()
    assert code == 0, run.stderr()[-3000:]
