"""Cluster members (`gridsup start --cluster`, separate process trees and run directories)
share one PostgreSQL database and one loopback Binance exchange.

The default test starts two members that split two grids, reads the split with
`gridsup status --cluster`, cuts one member off from PostgreSQL (a silent partition,
through a TCP proxy) and checks that it sent no order once the other had taken its
grid's lease; healed, it gets the grid back; then `gridsup move` hands the grid over
again (no cancel). The soak test adds a member to a running one and kills it with
`kill -9`: the other adopts its grids. Afterwards the exchange's record agrees with the
database: every client id accepted once, every fill stored, no order of ours open that
no grid tracks, nothing cancelled, and the balances equal the start plus the stored
fills."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cluster_support import (
    Market,
    btc_grids,
    check_books,
    lease_rows,
    leases,
    live_grids_file,
    loopback_market,
    member,
    settle_and_stop,
    split_names,
    trading,
    wait_split,
)
from e2e_run import wait_for
from e2e_support import GridsEnv
from tcp_proxy import TcpProxy

from gridsup.supervisor.placement import assign

ORDER_REQUEST = b"POST /api/v3/order "  # how beta's order requests start on the wire


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


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` with its port replaced by the proxy's."""
    parts = urlsplit(url)
    assert parts.port is not None, url
    return url.replace(f":{parts.port}", f":{proxy.port}", 1)


def test_members_split_survive_a_partition_and_move_a_grid(
    env: GridsEnv, market: Market, pg_url: str, run_dirs: dict[str, Path]
) -> None:
    a_grid, b_grid = split_names(["alpha", "beta"])  # hashing gives alpha a, beta b
    grids = btc_grids([a_grid, b_grid])
    path = live_grids_file(env, grids)
    pg_port, ex_port = urlsplit(pg_url).port, urlsplit(market.url).port
    assert pg_port is not None and ex_port is not None
    # beta reaches PostgreSQL and the exchange through proxies: one to cut it off from
    # the database, one that notes when it sends an order.
    with TcpProxy(pg_port) as db_link, TcpProxy(ex_port, watch=ORDER_REQUEST) as ex_link:
        alpha = member(env, path, "alpha", pg_url, market.url, run_dirs["alpha"])
        beta_db, beta_ex = through(pg_url, db_link), through(market.url, ex_link)
        beta = member(env, path, "beta", beta_db, beta_ex, run_dirs["beta"])
        wait_split(env, pg_url, {"alpha": {a_grid}, "beta": {b_grid}}, run_dirs, 120, alpha)
        # beta's own orders pass the proxy that watches them (its grid may have been
        # handed to it with alpha's orders: wait for a fill and its counter order).
        wait_for(lambda: ex_link.seen, 60, "beta places an order", beta)

        # The split as `status --cluster` reads it from the database.
        shown = env.gridsup("status", "--cluster", "--json", "--db", pg_url)
        assert shown.returncode == 0, shown.stderr
        members = {m["member"]: m for m in json.loads(shown.stdout)["members"]}
        assert {name: (m["state"], m["grids"]) for name, m in members.items()} == {
            "alpha": ("live", [a_grid]),
            "beta": ("live", [b_grid]),
        }

        # A silent partition: beta's database traffic vanishes, its exchange link stays.
        # beta stops trading before alpha takes its grid's lease: it sends no order from
        # then on, and does not trade the grid by its own word either.
        before = lease_rows(pg_url)[b_grid]
        db_link.freeze()
        cut_at = time.time()
        wait_split(env, pg_url, {"alpha": {a_grid, b_grid}}, run_dirs, 60, alpha)
        taken = lease_rows(pg_url)[b_grid]
        assert taken.owner == "alpha"
        assert taken.epoch > before.epoch  # a new incarnation, a new fencing epoch
        taken_at = taken.acquired_at.timestamp()
        assert [t for t in ex_link.seen if t >= taken_at] == []
        assert b_grid not in trading(run_dirs["beta"])
        print(
            f"partition: beta's last order {max(ex_link.seen) - cut_at:+.1f} s from the cut, "
            f"its grid's lease taken {taken_at - cut_at:.1f} s after it"
        )

        # Healed: beta beats again and hashing gives its grid back (a handover).
        db_link.thaw()
        wait_split(env, pg_url, {"alpha": {a_grid}, "beta": {b_grid}}, run_dirs, 60, beta)

        # `gridsup move`: beta hands its grid over without a cancel, alpha adopts it.
        before = lease_rows(pg_url)[b_grid]
        moved = env.gridsup("move", b_grid, "alpha", "--wait", "60", "--db", pg_url, timeout=90)
        assert moved.returncode == 0, moved.stderr
        wait_split(env, pg_url, {"alpha": {a_grid, b_grid}, "beta": set()}, run_dirs, 60, alpha)
        assert lease_rows(pg_url)[b_grid].epoch > before.epoch

        settle_and_stop(market, pg_url, [a_grid, b_grid], [alpha, beta])
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
