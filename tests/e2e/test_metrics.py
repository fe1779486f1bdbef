"""The supervisor's Prometheus endpoint during a real paper run: a real HTTP scrape,
parsed with prometheus-client's own parser, whose grid figures equal the database's;
and, where Debian's ``prometheus`` is installed, the real server scraping us."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_run import CENTERS, FAST_ARGS, all_trading, fast_grids_file, names, wait_for
from e2e_support import GridsEnv, Run, write_wave_candles
from prometheus_client.parser import text_string_to_metric_families

TIMEOUT = 90.0
CANDLES = 240  # 6 swings of the wave: about 20 s at a tick every 20 ms
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> Samples:
    """Every sample of ``/metrics``, parsed by prometheus-client."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def by_grid(samples: Samples, name: str, **labels: str) -> dict[str, float]:
    """grid -> value of the samples called ``name`` that carry ``labels``."""
    want = set(labels.items())
    return {
        dict(key)["grid"]: value
        for (sample, key), value in samples.items()
        if sample == name and want <= set(key)
    }


def database_figures(db: Path) -> dict[str, dict[str, Decimal]]:
    """Per grid: fills, closed round trips, their profit, the fees of its fills in quote
    (a base fee at its fill's price, as the grid counts it), read through the store
    (SQLite keeps money as order-preserving text)."""
    from sqlalchemy import select

    from gridsup.store.database import Database
    from gridsup.store.models import Fill, Trade

    async def read() -> dict[str, dict[str, Decimal]]:
        out: dict[str, dict[str, Decimal]] = {}
        async with Database(f"sqlite:///{db}") as database, database.session() as session:
            for fill in (await session.execute(select(Fill))).scalars():
                row = out.setdefault(str(fill.strategy), _zero())
                row["fills"] += 1
                if fill.fee_currency == "USDT":
                    row["fees"] += fill.fee
                elif fill.fee_currency == fill.symbol.split("/")[0]:
                    row["fees"] += fill.fee * fill.price
            closed = select(Trade).where(Trade.is_open.is_(False))
            for trade in (await session.execute(closed)).scalars():
                row = out.setdefault(trade.strategy, _zero())
                row["cycles"] += 1
                row["profit"] += trade.profit or Decimal(0)
        return out

    return asyncio.run(read())


def _zero() -> dict[str, Decimal]:
    return {"fills": Decimal(0), "cycles": Decimal(0), "profit": Decimal(0), "fees": Decimal(0)}


def grid_figures(samples: Samples) -> dict[str, dict[str, float]]:
    fills = by_grid(samples, "gridsup_grid_fills_total")
    cycles = by_grid(samples, "gridsup_grid_cycles_completed_total")
    profit = by_grid(samples, "gridsup_grid_realized_profit", asset="USDT")
    fees = by_grid(samples, "gridsup_grid_fees_paid_total", asset="USDT")
    return {
        g: {"fills": fills[g], "cycles": cycles[g], "profit": profit[g], "fees": fees[g]}
        for g in fills
    }


@pytest.fixture
def metrics_run(env: GridsEnv) -> Iterator[tuple[Run, int]]:
    """A paper run over a short replayed wave (six swings, then the replay ends and the
    market stops), serving metrics on a free loopback port."""
    port = free_port()
    grids = fast_grids_file(env)
    for symbol, center in CENTERS.items():
        write_wave_candles(env.tmp, symbol, center, count=CANDLES)
    run = env.start(grids, *FAST_ARGS, "--metrics", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: all_trading(env, names(), min_cycles=1), TIMEOUT, "cycles", run)
        yield run, port
    finally:
        run.interrupt()
        assert run.wait(60) == 0, run.stderr()[-3000:]


def test_a_scrape_during_a_paper_run_matches_the_database(
    env: GridsEnv, metrics_run: tuple[Run, int]
) -> None:
    _run, port = metrics_run
    first = scrape(port)
    assert first[("gridsup_supervisor_up", frozenset())] == 1
    states = by_grid(first, "gridsup_grid_state", state="trading")
    assert set(states) == set(names()) and set(states.values()) == {1.0}
    rss = [v for (n, _), v in first.items() if n == "gridsup_actor_resident_memory_bytes"]
    assert len(rss) == len(names()) + 3 and min(rss) > 1_000_000

    # The replay ends and the market stops: the grids settle, and every figure they
    # report must then be what the database holds.
    def settled() -> dict[str, dict[str, float]] | None:
        before = grid_figures(scrape(port))
        time.sleep(1.5)  # more than a heartbeat interval
        after = grid_figures(scrape(port))
        return after if after == before else None

    figures = wait_for(settled, 60, "the grids settled")
    db = database_figures(env.data / "gridsup.db")
    assert sum(f["cycles"] for f in figures.values()) >= len(names())
    for grid, f in figures.items():
        want = db.get(grid, _zero())
        assert f["fills"] == float(want["fills"]), grid
        assert f["cycles"] == float(want["cycles"]), grid
        assert f["profit"] == pytest.approx(float(want["profit"]), abs=1e-9), grid
        assert f["fees"] == pytest.approx(float(want["fees"]), abs=1e-9), grid


def test_metrics_refuse_a_non_loopback_address_given_on_the_command_line(
    env: GridsEnv,
) -> None:
    done = env.gridsup(
        "start", "-s", str(fast_grids_file(env)), "--metrics", "0.0.0.0:9108", timeout=60
    )
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr and "[metrics] address" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_metrics_port_in_use_fails_the_start_before_any_grid_runs(env: GridsEnv) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = env.gridsup(
            "start", "-s", str(fast_grids_file(env)), "--metrics", str(port), timeout=120
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "supervisor failed" in done.stderr and "Traceback" not in done.stderr
    assert "actor_spawned" not in done.stderr  # nothing was started


PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(
    PROMETHEUS is None,
    reason="Debian's prometheus is not installed (apt-get install prometheus)",
)
def test_the_real_prometheus_scrapes_the_supervisor(
    env: GridsEnv, metrics_run: tuple[Run, int], tmp_path: Path
) -> None:
    assert PROMETHEUS is not None
    _run, port = metrics_run
    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: gridsup\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def query(expr: str) -> list[dict[str, Any]]:
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    body = json.loads(answer.read())
            except OSError:
                return []
            result: list[dict[str, Any]] = body["data"]["result"]
            return result

        def scraped() -> list[dict[str, Any]] | bool:
            if server.poll() is not None:
                return True  # it exited: skipped below
            return query('up{job="gridsup"} == 1')

        wait_for(scraped, 60, "prometheus scraped us")
        if server.poll() is not None:
            log.flush()
            why = (tmp_path / "prometheus.log").read_text()[-500:]
            pytest.skip(f"prometheus could not start here: {why}")
        grids = wait_for(
            lambda: query("gridsup_grid_open_orders > 0"), 30, "grid series in prometheus"
        )
        assert {r["metric"]["grid"] for r in grids} == set(names())
    finally:
        server.terminate()
        server.wait(20)
        log.close()
