"""Two cluster members (`gridsup start --cluster`, separate process trees and run
directories) share one PostgreSQL database and one loopback Binance exchange: the second
member takes over some grids from the first without a cancel (a graceful handover); a
member killed with `kill -9`, with all its actors, has its grids adopted, reconciled and
trading on the other within seconds. Afterwards the exchange's record agrees with the
database: every client id accepted once, every fill of ours stored, no order of ours open
that no grid tracks, and the account's balances equal the start plus the stored fills."""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from e2e_books import ours, read_database, tracked_ids
from e2e_run import all_trading, grid_status, wait_for
from e2e_support import FAST_GRIDS, GridsEnv, Run, e2e_loopback, grids_toml
from test_e2e_loopback import KEY_ENV, KEYS, SECRET_ENV, client

BASE = dict(FAST_GRIDS[0])
GRIDS = [
    {**BASE, "name": "btc-a"},
    {**BASE, "name": "btc-b", "lower_price": 58000, "upper_price": 62000},
    {**BASE, "name": "btc-c", "lower_price": 58500, "upper_price": 61500},
    {**BASE, "name": "btc-d", "lower_price": 57500, "upper_price": 62500},
]
NAMES = [g["name"] for g in GRIDS]
START_USDT = Decimal(10000)


class Market:
    """The loopback's BTC/USDT price, walked by the test along a +-3 % wave (a step every
    50 ms) until :meth:`halt`: after that no order can fill, so the exchange's record and
    the database can be compared once the members have caught up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._walk, daemon=True)
        self._thread.start()

    def _walk(self) -> None:
        step = 0
        while not self._halt.wait(0.05):
            price = 60000 * (1 + 0.03 * math.sin(step / 40))
            body = json.dumps({"symbol": "BTC/USDT", "price": f"{price:.2f}"}).encode()
            request = urllib.request.Request(
                f"{self.url}/admin/price", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5) as reply:
                reply.read()
            step += 1

    def halt(self) -> None:
        self._halt.set()
        self._thread.join(10)


@pytest.fixture
def market(env: GridsEnv) -> Iterator[Market]:
    """A loopback exchange process at a price the test moves itself."""
    args = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV, "--balance", "USDT=10000")
    with e2e_loopback(env, KEYS, *args, "--price", "BTC/USDT=60000") as url:
        walker = Market(url)
        try:
            yield walker
        finally:
            walker.halt()


async def _leases(pg_url: str) -> dict[str, tuple[str, int]]:
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""), timeout=5)
    try:
        rows = await conn.fetch("SELECT grid, owner, epoch FROM grid_leases")
    finally:
        await conn.close()
    return {r["grid"]: (r["owner"], r["epoch"]) for r in rows}


def leases(pg_url: str) -> dict[str, tuple[str, int]]:
    return asyncio.run(_leases(pg_url))


def member(env: GridsEnv, path: Path, name: str, pg_url: str, url: str, run_dir: Path) -> Run:
    return env.start(
        str(path),
        "--cluster",
        "--member",
        name,
        "--db",
        pg_url,
        "--exchange-url",
        url,
        "--tick-interval-ms",
        "100",
        "--poll-interval-ms",
        "200",
        extra_env={**KEYS, "GRIDSUP_RUN_DIR": str(run_dir)},
    )


async def exchange_state(
    url: str,
) -> tuple[list[Any], list[Any], dict[str, list[str]], dict[str, Any]]:
    ex = client(url)
    try:
        trades = await ex.fetch_my_trades("BTC/USDT", limit=1000)
        open_orders = await ex.fetch_open_orders("BTC/USDT")
    finally:
        await ex.close()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/admin/orders") as reply:
            by_client_id = (await reply.json())["by_client_id"]
        async with http.get(f"{url}/admin/balance") as reply:
            balance = await reply.json()
    return trades, open_orders, by_client_id, balance


# Out of the default run until its fix for a race of its own (it read the second member's
# share while that share was still moving) has passed CI: `scripts/test -m soak` runs it.
@pytest.mark.soak
def test_members_hand_over_and_adopt_a_killed_members_grids(
    env: GridsEnv, market: Market, pg_url: str
) -> None:
    loopback = market.url
    path = env.write(
        grids_toml(
            GRIDS,
            exchange={
                "id": "binance",
                "mode": "live",
                "api_key_env": KEY_ENV,
                "api_secret_env": SECRET_ENV,
            },
            market_data={"source": "exchange"},
        )
    )
    other_dir = Path(tempfile.mkdtemp(prefix="gse2e-b-", dir="/tmp"))
    first = member(env, path, "alpha", pg_url, loopback, env.run_base)
    wait_for(
        lambda: all_trading(env, NAMES),
        120,
        "the first member runs every grid",
        first,
        detail=lambda: grid_status(env),
    )
    assert {owner for owner, _ in leases(pg_url).values()} == {"alpha"}

    # A second member joins: rendezvous hashing hands it its share, without a cancel.
    second = member(env, path, "beta", pg_url, loopback, other_dir)
    moved = wait_for(
        lambda: [g for g, (owner, _) in leases(pg_url).items() if owner == "beta"],
        90,
        "the second member adopts its share",
        second,
        detail=lambda: leases(pg_url),
    )
    assert 0 < len(moved) < len(NAMES)

    def settled_split() -> bool:
        # The share moves one grid at a time: read it again until the first member runs
        # exactly the grids leased to it and the second holds the rest.
        owners = leases(pg_url)
        mine = {g for g, (owner, _) in owners.items() if owner == "alpha"}
        return 0 < len(mine) < len(NAMES) and set(grid_status(env)) == mine

    wait_for(
        settled_split,
        60,
        "the first keeps the rest",
        first,
        detail=lambda: (sorted(grid_status(env)), leases(pg_url)),
    )
    moved = [g for g, (owner, _) in leases(pg_url).items() if owner == "beta"]

    # kill -9 the second member's whole process tree: the first adopts its grids.
    before = leases(pg_url)
    killed_at = time.monotonic()
    second.kill()
    wait_for(
        lambda: all_trading(env, NAMES),
        60,
        "the first member trades every grid again",
        first,
        detail=lambda: (leases(pg_url), grid_status(env)),
    )
    failover_s = time.monotonic() - killed_at
    print(f"failover after kill -9 of a member: {failover_s:.1f} s for {len(moved)} grids")
    after = leases(pg_url)
    for grid in moved:
        assert after[grid][0] == "alpha"
        assert after[grid][1] > before[grid][1]  # a new incarnation, a new fencing epoch
    assert failover_s < 45  # generous: the measured figure is printed (target 15 s)

    # The market stops; once every trade of the account is stored and no new one has come
    # for 3 s (a counter order placed as the market stopped may still fill at once, as a
    # taker), the member stops.
    market.halt()
    counts: list[tuple[int, int]] = []

    def settled() -> bool:
        trades = len(asyncio.run(exchange_state(loopback))[0])
        counts.append((trades, len(read_database(pg_url, NAMES).fills)))
        time.sleep(3)
        again = (len(asyncio.run(exchange_state(loopback))[0]), counts[-1][1])
        return counts[-1][0] == counts[-1][1] == again[0]

    wait_for(settled, 90, "every trade on the exchange is stored", first, detail=lambda: counts)
    first.interrupt()
    assert first.wait(90) == 0, first.stderr()[-3000:]
    assert KEYS[SECRET_ENV] not in first.stdout() + first.stderr()

    trades, open_orders, by_client_id, balance = asyncio.run(exchange_state(loopback))
    db = read_database(pg_url, NAMES)
    ours_ids = [cid for cid in by_client_id if ours(cid, NAMES)]
    assert ours_ids
    assert [cid for cid in ours_ids if len(by_client_id[cid]) != 1] == []  # 0 duplicates
    stored = {f.trade_id for f in db.fills}
    assert [t.id for t in trades if t.id not in stored] == []  # 0 lost fills (no foreign)
    tracked: set[str] = set()
    for grid in GRIDS:
        tracked |= tracked_ids(grid, db.states[grid["name"]])
    orphans = [o.client_order_id for o in open_orders if ours(o.client_order_id, NAMES)]
    assert [cid for cid in orphans if cid not in tracked] == []  # 0 orphans
    # Money adds up: the account = the start + what the stored fills moved, fees included.
    base_delta, quote_delta = Decimal(0), Decimal(0)
    for fill in db.fills:
        sign = 1 if fill.side.value == "buy" else -1
        base_delta += sign * fill.amount
        quote_delta -= sign * fill.amount * fill.price
        if fill.fee_currency == "BTC":
            base_delta -= fill.fee
        elif fill.fee_currency == "USDT":
            quote_delta -= fill.fee
    held = {
        asset: Decimal(str(balance["free"].get(asset, 0)))
        + Decimal(str(balance["used"].get(asset, 0)))
        for asset in ("BTC", "USDT")
    }
    detail = (
        held,
        base_delta,
        quote_delta,
        len(db.fills),
        len(trades),
        {f.fee_currency for f in db.fills},
        sum(t.amount * t.price * (1 if t.side.value == "buy" else -1) for t in trades),
    )
    assert held.get("USDT", Decimal(0)) == START_USDT + quote_delta, detail
    assert held.get("BTC", Decimal(0)) == base_delta
