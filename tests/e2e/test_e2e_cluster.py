"""Cluster members (`gridsup start --cluster`, separate process trees and run directories)
share one PostgreSQL database and one loopback Binance exchange.

The default test starts two members that split two grids between them, reads the split
with `gridsup status --cluster`, moves one grid with `gridsup move` (a handover without
a cancel), then kills the member holding both with `kill -9`: the other adopts them,
reconciles and trades on. The soak test adds a member to a running one and kills it.
Afterwards the exchange's record agrees with the database: every client id accepted
once, every fill stored, no order of ours open that no grid tracks, nothing cancelled,
and the account's balances equal the start plus the stored fills."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import (
    Market,
    btc_grids,
    check_books,
    leases,
    live_grids_file,
    loopback_market,
    member,
    settle_and_stop,
    split_names,
    wait_split,
)
from e2e_support import GridsEnv

from gridsup.supervisor.placement import assign


@pytest.fixture
def market(env: GridsEnv) -> Iterator[Market]:
    with loopback_market(env) as walker:
        yield walker


@pytest.fixture
def run_dirs(env: GridsEnv) -> Iterator[dict[str, Path]]:
    """alpha's and beta's run directories (short /tmp paths: unix socket names)."""
    other = Path(tempfile.mkdtemp(prefix="gse2e-b-", dir="/tmp"))
    yield {"alpha": env.run_base, "beta": other}
    shutil.rmtree(other, ignore_errors=True)


def test_members_split_move_and_adopt_a_killed_members_grids(
    env: GridsEnv, market: Market, pg_url: str, run_dirs: dict[str, Path]
) -> None:
    a_grid, b_grid = split_names(["alpha", "beta"])  # hashing gives alpha a, beta b
    grids = btc_grids([a_grid, b_grid])
    path = live_grids_file(env, grids)
    alpha = member(env, path, "alpha", pg_url, market.url, run_dirs["alpha"])
    beta = member(env, path, "beta", pg_url, market.url, run_dirs["beta"])
    wait_split(env, pg_url, {"alpha": {a_grid}, "beta": {b_grid}}, run_dirs, 120, alpha)

    # The split as `status --cluster` reads it from the database.
    shown = env.gridsup("status", "--cluster", "--json", "--db", pg_url)
    assert shown.returncode == 0, shown.stderr
    members = {m["member"]: m for m in json.loads(shown.stdout)["members"]}
    assert {name: (m["state"], m["grids"]) for name, m in members.items()} == {
        "alpha": ("live", [a_grid]),
        "beta": ("live", [b_grid]),
    }

    # `gridsup move`: beta hands its grid over without a cancel, alpha adopts it.
    before = leases(pg_url)
    moved = env.gridsup("move", b_grid, "alpha", "--wait", "60", "--db", pg_url, timeout=90)
    assert moved.returncode == 0, moved.stderr
    wait_split(env, pg_url, {"alpha": {a_grid, b_grid}, "beta": set()}, run_dirs, 60, alpha)
    assert leases(pg_url)[b_grid][1] > before[b_grid][1]  # a new incarnation, a new epoch

    # kill -9 alpha's whole tree: beta adopts both grids (the pin waits for alpha).
    killed_at = time.monotonic()
    alpha.kill()
    wait_split(env, pg_url, {"beta": {a_grid, b_grid}}, run_dirs, 60, beta)
    print(f"failover after kill -9 of a member: {time.monotonic() - killed_at:.1f} s, 2 grids")

    settle_and_stop(market, pg_url, [a_grid, b_grid], [beta])
    check_books(market.url, pg_url, grids)


@pytest.mark.soak
def test_a_joining_member_takes_its_share_and_its_grids_survive_its_kill(
    env: GridsEnv, market: Market, pg_url: str, run_dirs: dict[str, Path]
) -> None:
    names = ["btc-a", "btc-b", "btc-c", "btc-d"]
    grids = btc_grids(names)
    path = live_grids_file(env, grids)
    first = member(env, path, "alpha", pg_url, market.url, run_dirs["alpha"])
    wait_split(env, pg_url, {"alpha": set(names)}, run_dirs, 120, first)

    # A second member joins: rendezvous hashing hands it its share, without a cancel.
    second = member(env, path, "beta", pg_url, market.url, run_dirs["beta"])
    share = {g for g, m in assign(names, ["alpha", "beta"]).items() if m == "beta"}
    assert 0 < len(share) < len(names)
    wait_split(env, pg_url, {"alpha": set(names) - share, "beta": share}, run_dirs, 90, second)

    # kill -9 the second member's whole process tree: the first adopts its grids.
    before = leases(pg_url)
    killed_at = time.monotonic()
    second.kill()
    wait_split(env, pg_url, {"alpha": set(names)}, run_dirs, 60, first)
    failover_s = time.monotonic() - killed_at
    print(f"failover after kill -9 of a member: {failover_s:.1f} s for {len(share)} grids")
    after = leases(pg_url)
    assert all(after[g][1] > before[g][1] for g in share)  # new incarnations, new epochs

    settle_and_stop(market, pg_url, names, [first])
    check_books(market.url, pg_url, grids)
