"""CPU of one persistence commit: the requests of one grid's price move, committed one
batch at a time by the real ``PersistenceActor._commit`` (no sockets) to a SQLite file
(and PostgreSQL when it answers), as in a fleet where one grid moves alone.

    .venv/bin/python bench/store_commit.py [--moves N] [--paper-bytes B] [--pg-url URL]
        [--against SRC]

One move is the three commits of ``bench/persistence.py``'s round at one grid: the
execution actor's fill (RecordFill + the filled RecordOrderEvent + the paper account's
snapshot), the strategy's SaveState, and the counter order's RecordOrderEvent + the paper
snapshot. Printed per batch kind: the median process CPU (µs; the aiosqlite thread
included, PostgreSQL's server not) and wall time over ``--moves`` moves after a warm-up.

``--against SRC`` runs the same bench a second time in a child process with ``SRC`` (a
``src`` folder, e.g. ``/work/main/src``: the code before a change) first on the import
path, and prints its figures first, as the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

import persistence as burst
from gridsup.actors.persistence.actor import PersistenceActor
from gridsup.actors.run_config import Mode, RunConfig
from gridsup.logging import configure_logging
from gridsup.store.database import Database

ENVELOPE = [b"bench"]


async def bench_engine(url: str, schema: str | None, moves: int) -> dict[str, list[float]]:
    """Per batch name: (CPU µs, wall µs) of each timed commit."""
    async with Database(url, schema=schema) as db:
        await burst.reset(db)
    run = RunConfig(
        run_dir="unused", exchange_id="paper", mode=Mode.DRY_RUN, db_url=url, markets={}, grids=()
    )
    actor = PersistenceActor(run, schema=schema)
    await actor.db.connect()
    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}
    try:
        fleet = burst.Fleet(1)
        for n in range(moves + 20):  # the first 20 moves warm caches and statements
            for name, batch in fleet.round():
                envelopes = [(ENVELOPE, m) for m in batch]
                w, c = time.perf_counter(), time.process_time()
                replies = await actor._commit(envelopes)
                c, w = time.process_time() - c, time.perf_counter() - w
                assert all(r.ok and not r.duplicate for _, r in replies), replies[:3]
                if n >= 20:
                    cpu.setdefault(name, []).append(c * 1e6)
                    wall.setdefault(name, []).append(w * 1e6)
    finally:
        await actor.db.disconnect()
    return {name: [statistics.median(cpu[name]), statistics.median(wall[name])] for name in cpu}


def report(title: str, figures: dict[str, list[float]]) -> None:
    print(f"  {title}")
    for name, (cpu, wall) in figures.items():
        print(f"    {name:<10} CPU {cpu:>7.0f} µs   wall {wall:>7.0f} µs")
    mean = statistics.mean(cpu for cpu, _ in figures.values())
    print(f"    {'per commit':<10} CPU {mean:>7.0f} µs (mean of the kinds)")


async def measure(args: argparse.Namespace) -> None:
    burst.PAPER_BYTES = args.paper_bytes
    with tempfile.TemporaryDirectory(prefix="gridsup-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'commit.db'}"
        report("SQLite", await bench_engine(url, None, args.moves))
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = Database(args.pg_url)
    try:
        await admin.connect()
    except Exception as exc:
        print(f"  PostgreSQL: skipped ({exc})")
        return
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        report("PostgreSQL", await bench_engine(args.pg_url, schema, args.moves))
    finally:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=300, help="timed moves (median kept)")
    parser.add_argument("--paper-bytes", type=int, default=20_000, help="paper snapshot size")
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--against", help="a src folder to measure first, as the baseline")
    parser.add_argument("--label", default="this code")
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.against:
        argv = ["--moves", str(args.moves), "--paper-bytes", str(args.paper_bytes)]
        argv += ["--pg-url", args.pg_url, "--label", f"baseline ({args.against})"]
        env = {**os.environ, "PYTHONPATH": args.against}
        subprocess.run([sys.executable, __file__, *argv], env=env, check=True)
    print(f"{args.label}:", flush=True)
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
