"""Soak: a fleet of paper grids trading for minutes at an accelerated market, watched for
anything that grows with time instead of with the work done.

    .venv/bin/python bench/soak.py [--grids 100] [--minutes 30] [--period 30]
                                   [--tick-ms 100] [--paper-history 1000] [--sample 10]
                                   [--warmup 0.5] [--json FILE]

Runs ``--grids`` dry-run grids (paper exchange, SQLite) with the real preflight, child
specs, supervisor, forkserver and actors, spread over the paper exchange's four markets
(±5 % around 60000 BTC, 3000 ETH, 150 SOL, 600 BNB, 21 levels, each grid's range a little
off its neighbours'). As in bench/fleet.py the market-data actor is replaced by this
script's publisher on the MARKET channel: every ``--tick-ms`` each market ticks on a sine
of ±2 % over ``--period`` seconds (a quarter period apart between markets), so every grid
fills and replaces orders through eight levels each way, period after period, for as long
as the run lasts.

Every ``--sample`` seconds it records: the RSS of every process (by kind), orders placed
(rows of ``orders``), fills, the database's bytes (file and WAL), the rows of every table,
the stored paper account snapshot's bytes and the retired client ids it still lists, and
the retired client ids in the store. Printed: the samples; per process kind the RSS at the
end of the warm-up (``--warmup``: that share of the run; the execution actor's bounded
caches fill over its first 10,000 orders, about 7 minutes here) and at the end, and the
largest change of one process (target: flat within 5 %); database, snapshot and rows per 1,000
orders after the warm-up (bounded: the snapshot's should be about zero, the rows' a few
per order). The baseline is the run's own warm-up sample. At the end the fleet stops
cleanly and the paper account's holdings are checked against the opening balances plus
what the stored fills moved (``gridsup stats``' balance change), per asset, fees included.
``--json`` writes the samples and the summary (tests/e2e/test_soak.py asserts on them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from supervised import shut_down, start_supervisor

CENTERS = {"BTC/USDT": 60000, "ETH/USDT": 3000, "SOL/USDT": 150, "BNB/USDT": 600}
AMPLITUDE = 0.02
BUDGET = 300
TABLES = (
    "orders",
    "order_events",
    "fills",
    "trades",
    "strategy_states",
    "grid_leases",
    "retired_client_ids",
)
PAPER = "__paper_account__"
GRID = """
[[grid]]
name = "s{i:03d}"
symbol = "{symbol}"
lower_price = {lower}
upper_price = {upper}
num_grids = 21
total_investment = {budget}
initial_position = "none"
"""


def grids_file(directory: Path, count: int, paper_history: int) -> Path:
    text = f'[exchange]\nid = "paper"\npaper_history = {paper_history}\n'
    text += f"[exchange.paper_balances]\nUSDT = {BUDGET * count}\n"
    symbols = list(CENTERS)
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        center = CENTERS[symbol]
        nudge = 1 + 0.001 * (i // len(symbols) % 5)  # neighbours' levels a little apart
        text += GRID.format(
            i=i,
            symbol=symbol,
            lower=round(center * 0.95 * nudge, 2),
            upper=round(center * 1.05 * nudge, 2),
            budget=BUDGET,
        )
    path = directory / "grids.toml"
    path.write_text(text)
    return path


class SineMarket:
    """This script's MARKET publisher: every market on its own phase of one sine."""

    def __init__(self, endpoint: str, period: float) -> None:
        import zmq
        import zmq.asyncio

        from gridsup.actors.run_config import topic
        from gridsup.messages.market import MARKET_CODEC

        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.topics = {s: topic(s) for s in CENTERS}
        self.codec = MARKET_CODEC
        self.period = period
        self.ticks = 0

    def price(self, symbol: str, t: float) -> Decimal:
        phase = list(CENTERS).index(symbol) * math.pi / 2
        value = CENTERS[symbol] * (1 + AMPLITUDE * math.sin(2 * math.pi * t / self.period + phase))
        return Decimal(f"{value:.2f}")

    async def run(self, interval: float) -> None:
        from gridsup.messages.market import Tick

        began = time.monotonic()
        while True:
            now, t = time.time(), time.monotonic() - began
            for symbol, key in self.topics.items():
                tick = Tick(symbol=symbol, timestamp=int(now * 1000), last=self.price(symbol, t))
                await self.sock.send_multipart([key, self.codec.encode(tick)])
            self.ticks += 1
            await asyncio.sleep(interval)

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def database_sample(db_file: Path) -> dict[str, Any]:
    """Rows per table, bytes on disk, and the stored paper snapshot's size (core and buckets)."""
    from gridsup.actors.persistence.records import decode_state
    from gridsup.exchange.paper.engine import PaperExchange

    wal = db_file.with_name(db_file.name + "-wal")
    out: dict[str, Any] = {
        "db_bytes": db_file.stat().st_size,  # the WAL's pages land here at checkpoints
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
    }
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=30)
    try:
        for table in TABLES:
            out[f"rows_{table}"] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        # What the retired ids would add to the snapshot were they still in it (msgpack:
        # each a string of up to 31 bytes and its one-byte header): the baseline.
        out["retired_bytes"] = con.execute(
            "SELECT coalesce(sum(length(client_order_id) + 1), 0) FROM retired_client_ids"
        ).fetchone()[0]
        # The paper account's split snapshot: its core and its buckets (docs/paper.md).
        rows = con.execute(
            "SELECT strategy, state FROM strategy_states WHERE strategy = ? OR strategy LIKE ?",
            (PAPER, f"{PAPER}/%"),
        ).fetchall()
        states = con.execute(
            "SELECT sum(length(state)), max(length(state)) FROM strategy_states"
            " WHERE strategy NOT LIKE '\\_\\_%' ESCAPE '\\'"
        ).fetchone()
    finally:
        con.close()
    out["grid_states_bytes"], out["grid_state_max_bytes"] = states[0] or 0, states[1] or 0
    saved = {key: decode_state(json.loads(state))[1] for key, state in rows}
    if PAPER in saved:
        out["paper_row_bytes"] = sum(len(state) for _, state in rows)
        out["paper_snapshot_bytes"] = sum(len(data) for data in saved.values())
        core = saved.pop(PAPER)
        buckets = {int(key.rpartition("/")[2]): data for key, data in saved.items()}
        paper = PaperExchange.restore_split(core, buckets)
        out["paper_retired_listed"] = len(paper.retired.unsaved)
    return out


def rss_sample(kinds: dict[int, tuple[str, str]]) -> dict[str, int]:
    """RSS of every process, by actor name."""
    import psutil

    out: dict[str, int] = {}
    for pid, (name, _) in kinds.items():
        try:
            out[name] = int(psutil.Process(pid).memory_info().rss)
        except psutil.NoSuchProcess:
            continue
    return out


def holdings_check(db_file: Path, opening: dict[str, Decimal]) -> dict[str, Any]:
    """Per asset: what the paper account holds (its stored snapshot) against the opening
    balance plus what the stored fills moved (``gridsup stats``' balance change)."""
    from gridsup.actors.execution.state import restore_saved_paper
    from gridsup.actors.persistence.records import decode_state
    from gridsup.store.database import Database
    from gridsup.store.fills import FillRepository
    from gridsup.store.state import DatabaseStateStore

    async def read() -> tuple[Any, Any]:
        async with Database(f"sqlite+aiosqlite:///{db_file}") as db:
            store = DatabaseStateStore(db)

            async def load(key: str) -> bytes | None:
                saved = await store.load(key)
                return None if saved is None else decode_state(saved)[1]

            core = await load(PAPER)
            assert core is not None, "the execution actor saved no paper account"
            paper = await restore_saved_paper(core, load)
            async with db.session() as session:
                flows = await FillRepository(session).asset_flows()
        return paper, flows

    paper, flows = asyncio.run(read())
    balance = paper.balance()
    out: dict[str, Any] = {}
    for asset in sorted(set(opening) | set(flows.balance_change)):
        expected = opening.get(asset, Decimal(0)) + flows.balance_change.get(asset, Decimal(0))
        held = balance.total(asset)
        out[asset] = {"held": str(held), "expected": str(expected), "even": held == expected}
    return out


async def soak(specs: list[Any], run: Any, base: Path, db_file: Path, args: Any) -> dict[str, Any]:
    from gridsup.supervisor.states import ChildState

    sup, task, endpoint = await start_supervisor(specs, base, run.run_dir)
    loop = asyncio.get_running_loop()
    market = SineMarket(endpoint, args.period)
    ticker = loop.create_task(market.run(args.tick_ms / 1000))
    samples: list[dict[str, Any]] = []
    try:
        started = time.monotonic()
        while not (
            sup.supervision
            and sup.supervision.children
            and all(c.state is ChildState.RUNNING for c in sup.supervision.children.values())
        ):
            if task.done() or time.monotonic() - started > 300:
                raise SystemExit("the fleet did not start within 300 s")
            await asyncio.sleep(0.2)
        assert sup.supervision is not None
        kinds = {
            c.pid: (c.name, c.spec.kind)
            for c in sup.supervision.children.values()
            if c.pid is not None
        }
        kinds[os.getpid()] = ("supervisor", "supervisor")
        began = time.monotonic()
        end = began + args.minutes * 60
        while True:
            sample = {"t": round(time.monotonic() - began, 1)}
            sample.update(await loop.run_in_executor(None, database_sample, db_file))
            sample["rss"] = rss_sample(kinds)
            sample["restarts"] = sum(c.restarts for c in sup.supervision.children.values())
            samples.append(sample)
            if time.monotonic() >= end:
                break
            await asyncio.sleep(min(args.sample, max(0.0, end - time.monotonic())))
    finally:
        await shut_down(sup, task, ticker, market)
    return {"samples": samples, "kinds": dict(kinds.values())}


def summarize(result: dict[str, Any], warmup: float) -> dict[str, Any]:
    samples, kinds = result["samples"], result["kinds"]
    first = next(s for s in samples if s["t"] >= warmup * samples[-1]["t"])
    last = samples[-1]
    orders = last["rows_orders"] - first["rows_orders"]
    per_k = 1000 / orders if orders else float("nan")
    growth = {
        key: (last.get(key, 0) - first.get(key, 0)) * per_k
        for key in (
            "db_bytes",
            "paper_snapshot_bytes",
            "paper_row_bytes",
            "grid_states_bytes",
            *(f"rows_{t}" for t in TABLES),
        )
    }
    # The same run's baseline: the snapshot had it kept every retired id (as before).
    growth["paper_snapshot_bytes_keeping_retired_ids"] = (
        growth["paper_snapshot_bytes"] + (last["retired_bytes"] - first["retired_bytes"]) * per_k
    )
    rss: dict[str, dict[str, float]] = {}
    for name, kind in kinds.items():
        a, b = first["rss"].get(name), last["rss"].get(name)
        if not a or not b:
            continue
        entry = rss.setdefault(kind, {"warm": 0.0, "end": 0.0, "worst": 0.0, "count": 0})
        entry["warm"] += a
        entry["end"] += b
        entry["count"] += 1
        entry["worst"] = max(entry["worst"], abs(b - a) / a)
    return {
        "warmup_s": first["t"],
        "seconds": last["t"],
        "orders": last["rows_orders"],
        "orders_after_warmup": orders,
        "fills": last["rows_fills"],
        "retired_in_store": last["rows_retired_client_ids"],
        "paper_retired_listed": last.get("paper_retired_listed", 0),
        "paper_snapshot_bytes": last.get("paper_snapshot_bytes", 0),
        "per_1000_orders": growth,
        "rss": rss,
        "rss_worst_change": max((e["worst"] for e in rss.values()), default=0.0),
        "restarts": last["restarts"],
    }


def report(summary: dict[str, Any], samples: list[dict[str, Any]], args: Any) -> None:
    mb = 1024 * 1024
    print(
        f"soak: {args.grids} dry-run grids, {summary['seconds']:.0f} s, sine ±2 % over "
        f"{args.period:g} s, ticks every {args.tick_ms} ms, paper history {args.paper_history}"
    )
    print(
        f"{'t s':>6} {'orders':>8} {'fills':>7} {'db MB':>7} {'wal MB':>6} {'snap kB':>8} "
        f"{'listed':>6} "
        f"{'retired':>8} {'execution MB':>12} {'persistence MB':>14} {'strategy max MB':>15}"
    )
    kinds = {}
    for s in samples:
        by_kind: dict[str, list[int]] = {}
        for name, value in s["rss"].items():
            kinds.setdefault(name, name.split("-")[0])
            by_kind.setdefault(kinds[name], []).append(value)
        print(
            f"{s['t']:>6.0f} {s['rows_orders']:>8} {s['rows_fills']:>7} "
            f"{s['db_bytes'] / mb:>7.1f} {s['wal_bytes'] / mb:>6.1f} "
            f"{s.get('paper_snapshot_bytes', 0) / 1024:>8.1f} "
            f"{s.get('paper_retired_listed', 0):>6} {s['rows_retired_client_ids']:>8} "
            f"{max(by_kind.get('execution', [0])) / mb:>12.1f} "
            f"{max(by_kind.get('persistence', [0])) / mb:>14.1f} "
            f"{max(by_kind.get('grid', [0])) / mb:>15.1f}"
        )
    print(
        f"after the warm-up ({summary['warmup_s']:.0f} s, the baseline): "
        f"{summary['orders_after_warmup']} orders"
    )
    for kind, e in sorted(summary["rss"].items()):
        print(
            f"  RSS {kind:<12} {e['warm'] / mb:8.1f} -> {e['end'] / mb:8.1f} MB "
            f"({e['count']} processes; the largest change of one {e['worst'] * 100:.1f} %)"
        )
    print("  per 1,000 orders:")
    for key, value in summary["per_1000_orders"].items():
        unit = "rows" if key.startswith("rows_") else "bytes"
        print(f"    {key:<24} {value:12.1f} {unit}")
    print(
        f"  retired client ids in the store {summary['retired_in_store']}, still listed in "
        f"the snapshot {summary['paper_retired_listed']}; snapshot "
        f"{summary['paper_snapshot_bytes']} bytes; restarts {summary['restarts']}"
    )
    flat = summary["rss_worst_change"] <= 0.05
    print(f"target: RSS flat within 5 % after the warm-up {'MET' if flat else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--period", type=float, default=30.0, help="seconds per sine period")
    parser.add_argument("--tick-ms", type=int, default=100)
    parser.add_argument("--paper-history", type=int, default=1000)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=0.5, help="share of the run")
    parser.add_argument("--json", type=Path, help="write samples and summary here")
    args = parser.parse_args()

    from gridsup import app
    from gridsup.actors.run_config import MARKET_DATA_ACTOR
    from gridsup.commands.prepare import prepare
    from gridsup.logging import configure_logging

    configure_logging("WARNING")
    work = Path(tempfile.mkdtemp(prefix="gssoak-"))
    os.environ["GRIDSUP_DATA_DIR"] = str(work / "data")
    try:
        path = grids_file(work, args.grids, args.paper_history)
        _, run, _ = prepare(path, app.StartOptions(), work / "run")
        specs = [s for s in app.child_specs(run) if s.name != MARKET_DATA_ACTOR]
        db_file = work / "data" / "gridsup.db"
        result = asyncio.run(soak(specs, run, work / "run", db_file, args))
        summary = summarize(result, args.warmup)
        summary["holdings"] = holdings_check(db_file, dict(run.paper_balances))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(summary, result["samples"], args)
    even = all(v["even"] for v in summary["holdings"].values())
    print(f"holdings == opening + fills, per asset, fees included: {'yes' if even else 'NO'}")
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "samples": result["samples"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
