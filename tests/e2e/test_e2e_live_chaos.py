"""Chaos on the live path: `gridsup start` in live mode against the loopback Binance (a
real HTTP server process) through the real ccxt client, while the exchange answers 429s,
5xx and lost create responses, every actor kind is killed with SIGKILL in turn, then the
supervisor itself, then the fleet started again and stopped with --cancel-orders.

Afterwards, from the exchange's own record: no client order id was accepted twice, no
trade of ours is missing from the database, no order of ours is left open, and every
asset's balance equals the start plus what `gridsup stats` reports, to the unit.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from e2e_books import read_database
from e2e_run import (
    actor_pids,
    all_trading,
    grid_status,
    names,
    receiving,
    running_again,
    total_cycles,
    wait_for,
)
from e2e_support import FAST_GRIDS, GridsEnv, Run, live_grids_toml, wait_gone, wave_loopback

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import binance_url_overrides
from gridsup.exchange.types import Balance, Order, Trade
from gridsup.strategy.ids import grid_tag, parse_client_order_id

KEY_ENV, SECRET_ENV = "GSE2E_CHAOS_KEY", "GSE2E_CHAOS_SECRET"
KEYS = {KEY_ENV: "e2e-chaos-key", SECRET_ENV: "e2e-chaos-secret"}
GRIDS = [
    dict(FAST_GRIDS[0]),
    {**FAST_GRIDS[0], "name": "btc-narrow", "lower_price": 58500, "upper_price": 61500},
]
GRID_NAMES = names(GRIDS)
VICTIMS = ("grid-btc-fast", "market_data", "execution", "persistence")
START = {"USDT": Decimal(10000)}
FAULTS: list[dict[str, Any]] = [
    {"kind": "rate_limit", "path": "/api/v3/openOrders", "retry_after": 1},
    {"kind": "server_error", "method": "POST", "path": "/api/v3/order"},
    {"kind": "response_lost", "method": "POST", "path": "/api/v3/order"},
    {"kind": "server_error", "method": "GET", "path": "/api/v3/myTrades", "status": 502},
]


@pytest.fixture(
    params=[
        # The kinder exchange of earlier rounds: soak only (CI runs the realistic one,
        # which the issue asks for and which is the harder of the two).
        pytest.param(("--lenient",), id="lenient", marks=pytest.mark.soak),
        # Taker fills at once: a placement cut short by the stop is settled by look-up
        # (actors/execution/stopping.py); before, its fill never reached the database.
        pytest.param((), id="realistic"),
    ]
)
def loopback(env: GridsEnv, request: pytest.FixtureRequest) -> Iterator[str]:
    keys = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV)
    with wave_loopback(env, KEYS, *keys, *request.param) as url:
        yield url


async def _post_faults(url: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/admin/faults", json=FAULTS) as reply,
    ):
        assert reply.status == 200, await reply.text()


async def _exchange(url: str) -> tuple[list[Trade], list[Order], Balance, dict[str, list[str]]]:
    ex = CcxtExchange(
        "binance",
        api_key=KEYS[KEY_ENV],
        secret=KEYS[SECRET_ENV],
        url_overrides=binance_url_overrides(url),
        rate_limit_ms=1,
    )
    try:
        trades = await ex.fetch_my_trades("BTC/USDT", limit=1000)
        open_orders = await ex.fetch_open_orders("BTC/USDT")
        balance = await ex.fetch_balance()
    finally:
        await ex.close()
    async with aiohttp.ClientSession() as http, http.get(f"{url}/admin/orders") as reply:
        admin = await reply.json()
    return trades, open_orders, balance, admin["by_client_id"]


def _ours(cid: str | None) -> bool:
    parsed = parse_client_order_id(cid)
    return parsed is not None and parsed.grid_tag in {grid_tag(n) for n in GRID_NAMES}


def _trading(env: GridsEnv, run: Run, why: str) -> None:
    wait_for(lambda: all_trading(env, GRID_NAMES), 120, why, run, detail=lambda: grid_status(env))


def _kill_and_recover(env: GridsEnv, run: Run, name: str, url: str) -> None:
    asyncio.run(_post_faults(url))  # the exchange misbehaves while the actor is away
    pid = actor_pids(env)[name]
    before = total_cycles(env)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: running_again(env, name, pid), 60, f"{name} restarted", run)
    wait_for(lambda: receiving(env, GRID_NAMES), 90, f"grids receiving after {name}", run)
    wait_for(lambda: total_cycles(env) > before, 120, f"a cycle after {name} was killed", run)


def test_live_chaos_kills_and_faults_then_the_books_reconcile(env: GridsEnv, loopback: str) -> None:
    path = env.write(live_grids_toml(GRIDS, KEY_ENV, SECRET_ENV))
    args = ("--exchange-url", loopback, "--tick-interval-ms", "100", "--poll-interval-ms", "200")
    run = env.start(str(path), *args, extra_env=KEYS)
    _trading(env, run, "every grid trading live")

    for victim in VICTIMS:
        _kill_and_recover(env, run, victim, loopback)
    pids = list(actor_pids(env).values())
    os.kill(run.pid, signal.SIGKILL)
    run.proc.wait(10)
    assert wait_gone(pids, 60) == [], "actors outlived their supervisor"

    again = env.start(str(path), *args, extra_env=KEYS)
    _trading(env, again, "every grid trading after the restart")
    before = total_cycles(env)
    wait_for(lambda: total_cycles(env) > before, 120, "a cycle after the restart", again)
    stopped = env.gridsup("stop", "--cancel-orders", timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert again.wait(120) == 0, again.stderr()[-3000:]

    trades, open_orders, balance, by_client_id = asyncio.run(_exchange(loopback))
    # myTrades carries no client id: an order id names the order, the admin route its id.
    our_orders = {i for c, ids in by_client_id.items() if _ours(c) for i in ids}
    ours = [t for t in trades if t.order_id in our_orders]
    assert ours
    assert [c for c, ids in by_client_id.items() if _ours(c) and len(ids) != 1] == []
    assert [o.client_order_id for o in open_orders if _ours(o.client_order_id)] == []
    stats = env.gridsup("stats", "--db", env.db_url, "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    stored = {f.trade_id for f in read_database(env.db_url, GRID_NAMES).fills}
    assert sorted(t.id for t in ours if t.id not in stored) == []  # 0 lost fills
    change = {a: Decimal(v) for a, v in figures["balance_change"].items()}
    for asset in set(change) | set(START):
        expected = START.get(asset, Decimal(0)) + change.get(asset, Decimal(0))
        assert balance.total(asset) == expected, asset
