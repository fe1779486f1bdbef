"""Driving a cluster of `gridsup start --cluster` members in a test: one loopback Binance
exchange whose price the test walks, members in separate process trees and run
directories, their leases in PostgreSQL, and the closing check of the exchange's record
against the database (0 duplicate client ids, 0 lost fills, 0 orphans, the money adds
up, no order cancelled)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import asyncpg
import msgspec
from e2e_books import ours, read_database, tracked_ids
from e2e_run import own_status, wait_for
from e2e_support import FAST_GRIDS, GridsEnv, Run, e2e_loopback, live_grids_toml
from test_e2e_loopback import KEY_ENV, KEYS, SECRET_ENV, client

from gridsup.supervisor.placement import owner

BASE = dict(FAST_GRIDS[0])
# BTC/USDT grids of different ranges around the walk's centre (60000).
RANGES = [(57000, 63000), (58000, 62000), (58500, 61500), (57500, 62500)]
START_USDT = Decimal(10000)


def btc_grids(names: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {**BASE, "name": name, "lower_price": low, "upper_price": high}
        for name, (low, high) in zip(names, RANGES, strict=False)
    ]


def split_names(members: Sequence[str], per_member: int = 1) -> list[str]:
    """Grid names that rendezvous hashing places ``per_member`` on each of ``members``
    (picked from btc-a, btc-b, ...), so a test knows its split before it starts."""
    chosen: dict[str, list[str]] = {m: [] for m in members}
    for i in range(200):
        name = f"btc-{chr(ord('a') + i % 26)}{i // 26 or ''}"
        placed = owner(name, members)
        assert placed is not None
        if len(chosen[placed]) < per_member:
            chosen[placed].append(name)
        if all(len(names) == per_member for names in chosen.values()):
            return [name for m in members for name in chosen[m]]
    raise AssertionError(f"no split of {per_member} grid(s) per member among 200 names")


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


@contextmanager
def loopback_market(env: GridsEnv) -> Iterator[Market]:
    """A loopback exchange process at a price the test moves itself."""
    keys = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV)
    prices = ("--balance", "USDT=10000", "--price", "BTC/USDT=60000")
    with e2e_loopback(env, KEYS, *keys, *prices) as url:
        walker = Market(url)
        try:
            yield walker
        finally:
            walker.halt()


def live_grids_file(env: GridsEnv, grids: Sequence[Mapping[str, Any]]) -> Path:
    return env.write(live_grids_toml(grids, KEY_ENV, SECRET_ENV))


def member(
    env: GridsEnv,
    path: Path,
    name: str,
    db_url: str,
    exchange_url: str,
    run_dir: Path,
) -> Run:
    """`gridsup start --cluster --member name` with its own run directory."""
    return env.start(
        str(path),
        *("--cluster", "--member", name, "--db", db_url, "--exchange-url", exchange_url),
        *("--tick-interval-ms", "100", "--poll-interval-ms", "200"),
        extra_env={**KEYS, "GRIDSUP_RUN_DIR": str(run_dir)},
    )


def member_status(run_dir: Path) -> dict[str, Any] | None:
    """What `gridsup status --json` prints for the member whose run directory is
    ``run_dir`` (asked in this process: a `gridsup` process per poll costs seconds on a
    loaded machine); None when it does not answer."""
    from gridsup.commands.control import grid_rows
    from gridsup.messages.control import StatusQuery, StatusReply
    from gridsup.supervisor.client import NoSupervisor, ask

    try:
        reply = ask(run_dir, StatusQuery(), 3.0)
    except NoSupervisor:
        return None
    if not isinstance(reply, StatusReply):
        return None
    out: dict[str, Any] = msgspec.to_builtins(reply)
    out["grids"] = grid_rows(reply)
    return out


def trading(run_dir: Path) -> set[str]:
    """The grids the member trades: running with orders out, not stopped."""
    return {
        grid
        for grid, s in own_status(member_status(run_dir)).items()
        if s["open_orders"] > 0 and not s["stopped"]
    }


async def _lease_rows(pg_url: str) -> dict[str, LeaseRow]:
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""), timeout=5)
    try:
        rows = await conn.fetch("SELECT grid, owner, epoch, acquired_at FROM grid_leases")
    except asyncpg.UndefinedTableError:  # the first member has not migrated it yet
        rows = []
    finally:
        await conn.close()
    return {r["grid"]: LeaseRow(r["owner"], r["epoch"], r["acquired_at"]) for r in rows}


class LeaseRow(NamedTuple):
    owner: str
    epoch: int
    acquired_at: dt.datetime


def lease_rows(pg_url: str) -> dict[str, LeaseRow]:
    """grid -> its lease row as the database holds it now."""
    return asyncio.run(_lease_rows(pg_url))


def leases(pg_url: str) -> dict[str, tuple[str, int]]:
    """grid -> (owner, epoch)."""
    return {grid: (row.owner, row.epoch) for grid, row in lease_rows(pg_url).items()}


def owners(pg_url: str) -> dict[str, str]:
    return {grid: held_by for grid, (held_by, _) in leases(pg_url).items()}


def wait_split(
    env: GridsEnv,
    pg_url: str,
    want: Mapping[str, set[str]],
    run_dirs: Mapping[str, Path],
    timeout: float,
    run: Run | None = None,
) -> None:
    """Until each member holds and trades exactly the grids ``want`` gives it."""

    def settled() -> bool:
        held = owners(pg_url)
        return all(
            {g for g, m in held.items() if m == name} == grids and trading(run_dirs[name]) == grids
            for name, grids in want.items()
        )

    wait_for(
        settled,
        timeout,
        f"the members hold and trade {dict(want)}",
        run,
        detail=lambda: (
            leases(pg_url),
            {name: sorted(trading(d)) for name, d in run_dirs.items()},
        ),
    )


async def exchange_state(
    url: str,
) -> tuple[list[Any], list[Any], dict[str, list[str]], dict[str, Any], dict[str, int]]:
    """Our trades and open orders through ccxt; the loopback's accepted client ids,
    balances and request counts through its admin routes."""
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
        async with http.get(f"{url}/admin/requests") as reply:
            requests = await reply.json()
    return trades, open_orders, by_client_id, balance, requests


def settle_and_stop(market: Market, pg_url: str, grids: Sequence[str], runs: Sequence[Run]) -> None:
    """Halt the market; once every trade of the account is stored and no new one has
    come for 3 s (a counter order placed as the market stopped may still fill at once,
    as a taker), stop the members gracefully."""
    market.halt()
    counts: list[tuple[int, int]] = []

    def settled() -> bool:
        trades = len(asyncio.run(exchange_state(market.url))[0])
        counts.append((trades, len(read_database(pg_url, grids).fills)))
        time.sleep(3)
        again = len(asyncio.run(exchange_state(market.url))[0])
        return counts[-1][0] == counts[-1][1] == again

    wait_for(settled, 90, "every trade on the exchange is stored", runs[0], detail=lambda: counts)
    for run in runs:
        run.interrupt()
    for run in runs:
        assert run.wait(90) == 0, run.stderr()[-3000:]
        assert KEYS[SECRET_ENV] not in run.stdout() + run.stderr()


def check_books(url: str, pg_url: str, grids: Sequence[Mapping[str, Any]]) -> None:
    """The exchange's record against the database: every client id accepted once, every
    trade stored, no order of ours open that no grid tracks, no order cancelled (handover
    and failover never cancel), the account = the start + the stored fills, fees
    included."""
    names = [str(g["name"]) for g in grids]
    trades, open_orders, by_client_id, balance, requests = asyncio.run(exchange_state(url))
    db = read_database(pg_url, names)
    ours_ids = [cid for cid in by_client_id if ours(cid, names)]
    assert ours_ids
    assert [cid for cid in ours_ids if len(by_client_id[cid]) != 1] == []  # 0 duplicates
    stored = {f.trade_id for f in db.fills}
    assert [t.id for t in trades if t.id not in stored] == []  # 0 lost fills (no foreign)
    tracked: set[str] = set()
    for grid in grids:
        tracked |= tracked_ids(dict(grid), db.states[str(grid["name"])])
    orphans = [o.client_order_id for o in open_orders if ours(o.client_order_id, names)]
    assert [cid for cid in orphans if cid not in tracked] == []  # 0 orphans
    assert requests.get("DELETE /api/v3/order", 0) == 0  # nothing cancelled
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
    detail = (held, base_delta, quote_delta, len(db.fills), len(trades))
    assert held.get("USDT", Decimal(0)) == START_USDT + quote_delta, detail
    assert held.get("BTC", Decimal(0)) == base_delta, detail


def timed(check: Callable[[], Any], timeout: float, what: str, run: Run | None = None) -> float:
    """Seconds until ``check`` holds (printed by the caller; never asserted)."""
    started = time.monotonic()
    wait_for(check, timeout, what, run)
    return time.monotonic() - started
