"""A cluster member cut off from PostgreSQL (a silent partition: a TCP proxy between it
and the server stops passing bytes, closing nothing) stops trading before the other
member takes its grids' leases; when the partition heals it rejoins and gets its grids
back, without a cancel. The member's own exchange traffic passes through a second
proxy that notes when it sends `POST /api/v3/order`, so "stopped trading" is read from
what it really sent, not from its word. Afterwards the exchange's record agrees with
the database: 0 duplicate client ids, 0 lost fills, 0 orphans, nothing cancelled."""

from __future__ import annotations

import datetime as dt
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

ORDER_REQUEST = b"POST /api/v3/order "


@pytest.fixture
def market(env: GridsEnv) -> Iterator[Market]:
    with loopback_market(env) as walker:
        yield walker


@pytest.fixture
def run_dirs(env: GridsEnv) -> Iterator[dict[str, Path]]:
    other = Path(tempfile.mkdtemp(prefix="gse2e-b-", dir="/tmp"))
    yield {"alpha": env.run_base, "beta": other}
    shutil.rmtree(other, ignore_errors=True)


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` with its port replaced by the proxy's."""
    parts = urlsplit(url)
    assert parts.port is not None, url
    return url.replace(f":{parts.port}", f":{proxy.port}", 1)


def test_a_member_cut_from_the_database_stops_trading_before_its_grids_are_taken(
    env: GridsEnv, market: Market, pg_url: str, run_dirs: dict[str, Path]
) -> None:
    a_grid, b_grid = split_names(["alpha", "beta"])  # hashing gives alpha a, beta b
    grids = btc_grids([a_grid, b_grid])
    path = live_grids_file(env, grids)
    pg_port, ex_port = urlsplit(pg_url).port, urlsplit(market.url).port
    assert pg_port is not None and ex_port is not None
    with TcpProxy(pg_port) as db_link, TcpProxy(ex_port, watch=ORDER_REQUEST) as ex_link:
        alpha = member(env, path, "alpha", pg_url, market.url, run_dirs["alpha"])
        beta_db, beta_ex = through(pg_url, db_link), through(market.url, ex_link)
        beta = member(env, path, "beta", beta_db, beta_ex, run_dirs["beta"])
        wait_split(env, pg_url, {"alpha": {a_grid}, "beta": {b_grid}}, run_dirs, 120, alpha)
        assert ex_link.seen  # beta's orders go through the proxy that watches them
        before = lease_rows(pg_url)[b_grid]

        # The partition: beta's database traffic vanishes, its exchange link stays up.
        db_link.freeze()
        cut_at = time.time()
        wait_split(env, pg_url, {"alpha": {a_grid, b_grid}}, run_dirs, 60, alpha)
        taken = lease_rows(pg_url)[b_grid]
        assert taken.owner == "alpha"
        assert taken.epoch > before.epoch
        taken_at = taken.acquired_at.timestamp()
        # beta sent no order once alpha held the grid (nor did it trade it by its own word)
        assert [t for t in ex_link.seen if t >= taken_at] == []
        assert b_grid not in trading(env, run_dirs["beta"])
        last = max(ex_link.seen)
        print(
            f"partition: beta's last order {last - cut_at:+.1f} s from the cut, "
            f"its grid's lease taken {taken_at - cut_at:.1f} s after it "
            f"({dt.datetime.fromtimestamp(taken_at, dt.UTC):%H:%M:%S.%f})"
        )

        # Healed: beta beats again, hashing gives its grid back, alpha hands it over.
        db_link.thaw()
        wait_for(
            lambda: lease_rows(pg_url)[b_grid].owner == "beta",
            60,
            "beta takes its grid back",
            beta,
            detail=lambda: lease_rows(pg_url),
        )
        wait_split(env, pg_url, {"alpha": {a_grid}, "beta": {b_grid}}, run_dirs, 60, beta)

        settle_and_stop(market, pg_url, [a_grid, b_grid], [alpha, beta])
    check_books(market.url, pg_url, grids)
