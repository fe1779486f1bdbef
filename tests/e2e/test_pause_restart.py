"""A pause outlives the supervisor (issue 20): `gridsup pause` a grid of a paper run,
restart the supervisor (kill -9; in the soak version a graceful stop too), and the grid
is paused from its start -- `gridsup status` and the web fleet say so -- and places no
order while the market moves through its levels (the orders table and the paper
account's own record get nothing new of it); `gridsup resume` and it trades again. The
run ends with the books checked: the paper account holds the start plus what `gridsup
stats` says the fills moved, per asset, fees included.

The short version restarts once, with kill -9; ``-m soak`` adds a graceful restart. The
paused grid is resumed in the last run.
"""

from __future__ import annotations

import json
import os
import signal
from decimal import Decimal

import pytest
from e2e_books import missing_fills, read_paper_books
from e2e_run import (
    BALANCES,
    FAST_ARGS,
    actor_pids,
    all_trading,
    fast_grids_file,
    names,
    status,
    wait_for,
)
from e2e_support import GridsEnv, Run, wait_gone
from web_support import TOKEN_ENV, answers, fill_count, free_port, order_ids, request

from gridsup.strategy.ids import grid_tag, parse_client_order_id

PAUSED = "eth-fast"
OTHERS = ("btc-fast", "sol-fast")


def grid_state(env: GridsEnv, grid: str) -> str | None:
    reply = status(env) or {}
    row = next((r for r in reply.get("grids", ()) if r["grid"] == grid), {})
    state = row.get("state")
    return None if state is None else str(state)


def exchange_ids(env: GridsEnv, grid: str) -> set[str]:
    """The client ids of ``grid``'s orders in the paper account's own record."""
    _, record = read_paper_books(env.db_url, names())
    tag = grid_tag(grid)
    ids = [o.client_order_id for o in record.orders] + record.retired
    return {c for c in ids if (p := parse_client_order_id(c)) is not None and p.grid_tag == tag}


def start(env: GridsEnv, port: int) -> Run:
    path = fast_grids_file(env)
    return env.start(str(path), *FAST_ARGS, "--web", f"127.0.0.1:{port}", extra_env=TOKEN_ENV)


def restart_paused(env: GridsEnv, how: str, placed: set[str]) -> Run:
    """Start again after a stop (the last run is gone): the paused grid starts paused
    and places nothing while the other grids fill and place again (the market crosses
    their levels, and the paused grid's on the same swing)."""
    port = free_port()
    run = start(env, port)
    wait_for(
        lambda: grid_state(env, PAUSED) == "paused", 90, f"paused after the {how} restart", run
    )
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/api/fleet"), 30, "the dashboard", run)
    _, fleet = request(f"http://127.0.0.1:{port}/api/fleet")
    rows = {r["grid"]: r for r in fleet["grids"]}
    assert (rows[PAUSED]["state"], rows[PAUSED]["health"]) == ("paused", "paused")
    wait_for(lambda: all_trading(env, OTHERS), 90, "the other grids trading", run)
    fills = {g: fill_count(env.db_url, g) for g in OTHERS}
    others = {g: order_ids(env.db_url, g) for g in OTHERS}
    wait_for(
        lambda: (
            all(fill_count(env.db_url, g) >= fills[g] + 2 for g in OTHERS)
            and all(order_ids(env.db_url, g) > others[g] for g in OTHERS)
        ),
        90,
        "the market moves: the other grids fill and place again",
        run,
    )
    assert order_ids(env.db_url, PAUSED) == placed  # nothing new of the paused grid
    assert grid_state(env, PAUSED) == "paused"
    return run


@pytest.mark.parametrize(
    "restarts", [("kill",), pytest.param(("kill", "graceful"), marks=pytest.mark.soak)]
)
def test_a_paused_grid_stays_paused_across_supervisor_restarts(
    env: GridsEnv, restarts: tuple[str, ...]
) -> None:
    run = start(env, free_port())
    wait_for(lambda: all_trading(env, names()), 120, "every grid trading", run)
    paused = env.gridsup("pause", PAUSED)
    assert paused.returncode == 0, paused.stderr
    wait_for(lambda: grid_state(env, PAUSED) == "paused", 30, "paused", run)

    for how in restarts:
        if how == "kill":
            pids = list(actor_pids(env).values())
            os.kill(run.pid, signal.SIGKILL)
            run.proc.wait(10)
            assert wait_gone(pids, 60) == [], "actors outlived their supervisor"
        else:
            run.interrupt()
            assert run.wait(90) == 0, run.stderr()[-3000:]
        placed = order_ids(env.db_url, PAUSED)
        run = restart_paused(env, how, placed)
        # The paper account's own record (saved before any order is acknowledged) has
        # no order of the paused grid beyond those placed before its pause.
        assert exchange_ids(env, PAUSED) <= placed

    # Resumed: it reconciles and trades again.
    resumed = env.gridsup("resume", PAUSED, "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["outcome"] == "done"
    wait_for(lambda: grid_state(env, PAUSED) == "trading", 60, "trading again", run)
    wait_for(
        lambda: order_ids(env.db_url, PAUSED) > placed, 60, "new orders of the resumed grid", run
    )
    again = env.gridsup("resume", PAUSED)
    assert again.returncode == 2 and "not paused" in again.stderr
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]

    # The books add up: the paper account holds the start plus what the fills moved.
    db, exchange = read_paper_books(env.db_url, names())
    assert missing_fills(exchange, db, names()) == []
    stats = env.gridsup("stats", "--db", env.db_url, "--json")
    assert stats.returncode == 0, stats.stderr
    change = {a: Decimal(v) for a, v in json.loads(stats.stdout)["balance_change"].items()}
    start_balances = {a: Decimal(v) for a, v in BALANCES.items()}
    for asset in set(change) | set(start_balances) | set(exchange.free):
        held = exchange.free.get(asset, Decimal(0)) + exchange.used.get(asset, Decimal(0))
        expected = start_balances.get(asset, Decimal(0)) + change.get(asset, Decimal(0))
        assert held == expected, asset
