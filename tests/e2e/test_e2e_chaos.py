"""Chaos: kill -9 each actor kind in turn mid-run, then the supervisor itself, then start
again. Afterwards no client order id was placed twice, no fill is missing from the
database, no orphan order is left, and every grid is trading again.

The short version runs by default; ``-m soak`` runs random kills for minutes
(``GRIDSUP_SOAK_SECONDS``, default 300).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time

import pytest
from e2e_books import (
    fill_mismatches,
    implied_and_held,
    missing_fills,
    no_client_id_twice,
    orphans,
    read_paper_books,
    trade_mismatches,
)
from e2e_run import (
    BALANCES,
    FAST_ARGS,
    FAST_MARKETS,
    actor_pids,
    actors,
    all_trading,
    configs,
    fast_grids_file,
    grid_status,
    names,
    receiving,
    running_again,
    status,
    total_cycles,
    wait_for,
)
from e2e_support import GridsEnv, Run, wait_gone

# One of each kind, in the order the short run kills them.
VICTIMS = ("grid-btc-fast", "market_data", "execution", "persistence")
SOAK_PAPER_HISTORY = 1_000_000


def kill_and_recover(env: GridsEnv, run: Run, name: str) -> None:
    """SIGKILL ``name``; wait until it runs again and every grid trades again (ticks
    flow to each, and some grid completes a new cycle through the whole pipeline)."""
    pid = actor_pids(env)[name]
    cycles_before = total_cycles(env)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: running_again(env, name, pid), 60, f"{name} restarted", run)
    wait_for(
        lambda: receiving(env, names()),
        60,
        f"every grid receiving after {name} was killed",
        run,
        detail=lambda: grid_status(env),
    )
    wait_for(
        lambda: total_cycles(env) > cycles_before,
        90,
        f"a new cycle after {name} was killed",
        run,
        detail=lambda: grid_status(env),
    )


def kill_supervisor(env: GridsEnv, run: Run) -> None:
    """SIGKILL the supervisor: its actors notice its silence and exit on their own."""
    pids = list(actor_pids(env).values())
    assert pids
    os.kill(run.pid, signal.SIGKILL)
    run.proc.wait(10)
    assert wait_gone(pids, 60) == [], "actors outlived their supervisor"


def describe(pid: int) -> str:
    """What a surviving process is: its command line and the files it holds open."""
    import psutil

    try:
        proc = psutil.Process(pid)
        files = [f.path for f in proc.open_files()]
        return f"{pid} {proc.status()} {' '.join(proc.cmdline())[:120]} files={files}"
    except psutil.Error as exc:
        return f"{pid}: {exc!r}"


def check_books(env: GridsEnv) -> None:
    db, exchange = read_paper_books(env.db_url, names())
    assert no_client_id_twice(exchange) == []
    assert missing_fills(exchange, db, names()) == []
    assert fill_mismatches(exchange, db) == []
    assert orphans(exchange, db, configs()) == []
    # Every booked cycle stored exactly once, as the paper account's trades imply it.
    assert trade_mismatches(exchange, db, names()) == []
    implied, held = implied_and_held(exchange, db.fills, BALANCES, FAST_MARKETS)
    assert implied == held


def start_trading(env: GridsEnv, paper_history: int | None = None) -> Run:
    # The lenient paper rules: check_books' cycle oracle models fees in quote.
    grids = fast_grids_file(env, paper_history=paper_history, lenient=True)
    run = env.start(str(grids), *FAST_ARGS)
    wait_for(
        lambda: all_trading(env, names()),
        90,
        "every grid trading",
        run,
        detail=lambda: grid_status(env),
    )
    return run


def test_kill_each_actor_kind_then_the_supervisor_then_start_again(env: GridsEnv) -> None:
    # The books are checked against the paper account's whole record (see the soak test).
    run = start_trading(env, paper_history=SOAK_PAPER_HISTORY)

    for victim in VICTIMS:
        kill_and_recover(env, run, victim)
    restarts = {n: a["restarts"] for n, a in actors(status(env)).items()}
    assert all(restarts[v] >= 1 for v in VICTIMS), restarts
    kill_supervisor(env, run)

    again = start_trading(env, paper_history=SOAK_PAPER_HISTORY)
    wait_for(lambda: receiving(env, names()), 60, "every grid receiving after a restart", again)
    before = total_cycles(env)
    wait_for(lambda: total_cycles(env) > before, 90, "a cycle after the restart", again)
    again.interrupt()
    assert again.wait(90) == 0, again.stderr()[-3000:]
    check_books(env)


@pytest.mark.soak
def test_soak_random_kills_for_minutes(env: GridsEnv) -> None:
    seconds = float(os.environ.get("GRIDSUP_SOAK_SECONDS", "300"))
    rng = random.Random(int(os.environ.get("GRIDSUP_SOAK_SEED", "1")))
    # The books are checked against the paper account's own record, so it must remember
    # the whole run: by default it forgets all but its last 1000 finished orders, which
    # a run of minutes at this market speed passes.
    run = start_trading(env, paper_history=SOAK_PAPER_HISTORY)
    deadline = time.monotonic() + seconds
    kills = 0
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.5, 5.0))
        pids = actor_pids(env)
        if rng.random() < 0.1:
            kill_supervisor(env, run)
            run = start_trading(env, paper_history=SOAK_PAPER_HISTORY)
        else:
            name = rng.choice(sorted(pids))
            os.kill(pids[name], signal.SIGKILL)
            victim = pids[name]
            wait_for(lambda: running_again(env, name, victim), 60, f"{name} back", run)  # noqa: B023
        kills += 1
    wait_for(lambda: receiving(env, names()), 90, "every grid receiving at the end", run)
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]
    assert kills > 0
    check_books(env)


def test_nothing_outlives_a_supervisor_killed_while_a_grid_is_starting(env: GridsEnv) -> None:
    # A grid stuck in its start (its state load unanswered: persistence is frozen) when
    # the supervisor dies must still notice and exit, or it would hold the grid's lock
    # for ever and every later start would refuse the grid.
    import psutil

    run = start_trading(env)
    pids = actor_pids(env)
    os.kill(pids["persistence"], signal.SIGSTOP)
    try:
        os.kill(pids["grid-eth-fast"], signal.SIGKILL)
        wait_for(
            lambda: (
                (a := actors(status(env)).get("grid-eth-fast")) is not None
                and a["state"] == "starting"
                and a["pid"] not in (None, pids["grid-eth-fast"])
            ),
            30,
            "grid-eth-fast restarting",
            run,
        )
        tree = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
        os.kill(run.pid, signal.SIGKILL)
        run.proc.wait(10)
    finally:
        os.kill(pids["persistence"], signal.SIGCONT)
    survivors = wait_gone(tree, 60)
    described = [describe(pid) for pid in survivors]
    for pid in survivors:  # never leave them behind, whatever the outcome
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not described, "outlived their supervisor:\n" + "\n".join(described)
    again = start_trading(env)  # and the grid is free to start again
    again.interrupt()
    assert again.wait(90) == 0
