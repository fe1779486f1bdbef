"""Driving a running `gridsup start` from a test: its status, its actors' pids, waits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    FAST_GRIDS,
    START_PRICES,
    GridsEnv,
    Run,
    grids_toml,
    write_wave_candles,
)

# A fast market: a tick every 20 ms. The replayed wave (see write_wave_candles) swings
# +-3 % every 160 ticks (about 3 s), so every grid cycles within seconds, every time.
# The synthetic walk (0.1 % per step) is the README's default: levels about 1 % apart
# are crossed within a second or two, but where it wanders is up to chance.
FAST_ARGS = ("--tick-interval-ms", "20", *(a for p in START_PRICES for a in ("--price", p)))
SYNTHETIC_MARKET = {"source": "synthetic", "seed": 7, "volatility": 0.001}
BALANCES = {"USDT": 10000}
# symbol -> (base, quote) of the fast grids' markets
FAST_MARKETS: dict[str, tuple[str, str]] = {
    str(g["symbol"]): (str(g["symbol"]).split("/")[0], str(g["symbol"]).split("/")[1])
    for g in FAST_GRIDS
}
CENTERS = {"BTC/USDT": Decimal(60000), "ETH/USDT": Decimal(3000), "SOL/USDT": Decimal(150)}


def fast_grids_file(
    env: GridsEnv,
    grids: Sequence[Mapping[str, Any]] = FAST_GRIDS,
    *,
    synthetic: bool = False,
    paper_history: int | None = None,
    lenient: bool = False,
) -> Path:
    """A grids file over ``grids`` on the fast replayed wave (or the synthetic walk);
    ``paper_history``: finished orders the paper account remembers (its default else);
    ``lenient``: the paper account's fees in quote, crossing orders resting (the cycle
    oracle of ``e2e_books.cycles_from_exchange`` models only those)."""
    if synthetic:
        market: dict[str, Any] = SYNTHETIC_MARKET
    else:
        for symbol in {str(g["symbol"]) for g in grids}:
            write_wave_candles(env.tmp, symbol, CENTERS[symbol])
        market = {"source": "replay", "file": str(env.tmp / "{symbol}.csv")}
    exchange: dict[str, Any] = {"id": "paper"}
    if paper_history is not None:
        exchange["paper_history"] = paper_history
    if lenient:
        exchange["paper_lenient"] = True
    return env.write(grids_toml(grids, exchange=exchange, balances=BALANCES, market_data=market))


def status(env: GridsEnv) -> dict[str, Any] | None:
    """`gridsup status --json` of the running supervisor, None when none answers."""
    done = env.gridsup("status", "--json", "--timeout", "3", timeout=30)
    if done.returncode != 0:
        return None
    reply: dict[str, Any] = json.loads(done.stdout)
    return reply


def actors(reply: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    if reply is None:
        return {}
    return {a["name"]: a for a in reply["actors"]}


def grid_status(env: GridsEnv) -> dict[str, dict[str, Any]]:
    """Each running strategy actor's own status fields, by grid name."""
    return own_status(status(env))


def own_status(reply: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {
        a["status"]["grid"]: {**a["status"], "pid": a["pid"], "restarts": a["restarts"]}
        for a in actors(reply).values()
        if a["kind"] == "strategy" and a["state"] == "running" and "grid" in a["status"]
    }


def wait_for(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    run: Run | None = None,
    detail: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``check`` until truthy (status calls are slow: no tight interval needed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if run is not None and run.proc.poll() is not None:
            pytest.fail(f"gridsup start exited ({run.proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            tail = run.stderr()[-3000:] if run is not None else ""
            extra = detail() if detail is not None else ""
            pytest.fail(f"not within {timeout}s: {what}\n{extra}\n{tail}")
        time.sleep(0.2)


def all_trading(env: GridsEnv, names: Sequence[str], min_cycles: int = 0) -> bool:
    """Every grid runs, has orders out and ``min_cycles`` cycles done, and its row in
    `gridsup status` shows a tick age: its own, or for a grid off ticks (running without
    stops) its symbol's at the market-data actor."""
    reply = status(env)
    grids = own_status(reply)
    rows = {r["grid"]: r for r in (reply or {}).get("grids", ())}
    return all(
        name in grids
        and rows[name]["last_tick_age_s"] is not None
        and grids[name]["open_orders"] > 0
        and grids[name]["completed_cycles"] >= min_cycles
        and not grids[name]["stopped"]
        for name in names
    )


def cycles(env: GridsEnv) -> dict[str, int]:
    return {name: int(s["completed_cycles"]) for name, s in grid_status(env).items()}


def profit(env: GridsEnv) -> dict[str, Decimal]:
    return {name: Decimal(str(s["realized_profit"])) for name, s in grid_status(env).items()}


def names(grids: Sequence[Mapping[str, Any]] = FAST_GRIDS) -> list[str]:
    return [str(g["name"]) for g in grids]


def configs(grids: Sequence[Mapping[str, Any]] = FAST_GRIDS) -> dict[str, dict[str, Any]]:
    """The grids as GridConfig input (for reading their saved states back)."""
    return {str(g["name"]): dict(g) for g in grids}


def actor_pids(env: GridsEnv) -> dict[str, int]:
    """name -> pid of every actor with a live process."""
    return {n: a["pid"] for n, a in actors(status(env)).items() if a["pid"] is not None}


def running_again(env: GridsEnv, name: str, old_pid: int) -> bool:
    """``name`` runs in a new process (restarted after ``old_pid`` died)."""
    actor = actors(status(env)).get(name)
    return bool(actor and actor["state"] == "running" and actor["pid"] not in (None, old_pid))


def total_cycles(env: GridsEnv) -> int:
    return sum(cycles(env).values())


def receiving(env: GridsEnv, grid_names: Sequence[str]) -> bool:
    """Every grid is running with orders out and its process is receiving messages
    (ticks, order updates) between two looks."""
    first = grid_status(env)
    if not all(n in first and first[n]["open_orders"] > 0 for n in grid_names):
        return False
    time.sleep(0.5)
    second = grid_status(env)
    return all(
        n in second
        and second[n]["pid"] == first[n]["pid"]
        and second[n]["messages"] > first[n]["messages"]
        and not second[n]["stopped"]
        for n in grid_names
    )
