"""Order events stored per second: the store's own write path against bare SQLAlchemy
Core and raw sqlite3, one commit per event and 100 events per transaction, on SQLite
and PostgreSQL, all in the same run.

    .venv/bin/python bench/store.py [--pg-url URL] [--events N] [--single N]

The SQLite files live in a temporary directory and the PostgreSQL tables in a private
``bench_<random>`` schema; both are removed at the end. Target: the store's batched path
keeps >= 70 % of the bare Core batched figure on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from gridsup.logging import configure_logging
from gridsup.store.database import Database
from gridsup.store.events import event_row
from gridsup.store.models import Base, OrderEvent
from gridsup.store.records import OrderEventKind, OrderEventRecord
from gridsup.store.writer import StoreWriter

BATCH = 100
TABLE = OrderEvent.__table__


def records(n: int, run: str) -> list[OrderEventRecord]:
    kinds = list(OrderEventKind)
    return [
        OrderEventRecord(
            exchange="binance",
            strategy=f"grid-{i % 20}",
            client_order_id=f"gA{i % 500:04d}b{i % 7}",
            kind=kinds[i % len(kinds)],
            timestamp=1_700_000_000_000 + i,
            payload={"price": "42123.45", "amount": "0.00123", "seq": i},
            event_key=f"{run}:{i}",
        )
        for i in range(n)
    ]


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def store_single(db: Database, recs: list[Any]) -> None:
    writer = StoreWriter(db)
    for record in recs:
        await writer.write(record)


async def store_batched(db: Database, recs: list[Any]) -> None:
    writer = StoreWriter(db)
    for chunk in chunks(recs, BATCH):
        await writer.write_batch(chunk)


async def core_single(db: Database, rows: list[Any]) -> None:
    for row in rows:
        async with db.engine.begin() as conn:
            await conn.execute(insert(TABLE), [row])


async def core_batched(db: Database, rows: list[Any]) -> None:
    for chunk in chunks(rows, BATCH):
        async with db.engine.begin() as conn:
            await conn.execute(insert(TABLE), chunk)


Case = Callable[[Database, list[Any]], Awaitable[None]]
# The store is timed from its records; the bare baseline gets its rows ready-made, so
# the comparison charges the store for everything it adds.
PREPARE: dict[str, Callable[[list[OrderEventRecord]], list[Any]]] = {
    "core_single": lambda recs: [event_row(r) for r in recs],
    "core_batched": lambda recs: [event_row(r) for r in recs],
}


async def measure(db: Database, case: Case, n: int, repeats: int) -> float:
    """Best events/s over ``repeats`` runs, each on empty tables."""
    best = 0.0
    for _ in range(repeats):
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        recs = records(n, uuid.uuid4().hex[:8])
        work = PREPARE.get(case.__name__, list)(recs)
        start = time.perf_counter()
        await case(db, work)
        elapsed = time.perf_counter() - start
        async with db.engine.connect() as conn:
            stored = (await conn.execute(text("SELECT count(*) FROM order_events"))).scalar()
        assert stored == n, f"{case.__name__} stored {stored} of {n}"
        best = max(best, n / elapsed)
    return best


def raw_sqlite(path: Path, n: int, per_transaction: int) -> float:
    """stdlib sqlite3.executemany of the same (already encoded) rows, same pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("DELETE FROM order_events")
    now = "2026-01-01 00:00:00.000000"
    rows = [
        (r["event_key"], r["exchange"], r["strategy"], r["client_order_id"], r["kind"].value,
         r["timestamp"], r["payload"], now)
        for r in map(event_row, records(n, uuid.uuid4().hex[:8]))
    ]  # fmt: skip
    sql = (
        "INSERT INTO order_events (event_key, exchange, strategy, client_order_id, kind,"
        " timestamp, payload, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    start = time.perf_counter()
    for chunk in chunks(rows, per_transaction):
        conn.execute("BEGIN")
        conn.executemany(sql, chunk)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def bench_engine(name: str, db: Database, n: int, single: int) -> dict[str, float]:
    await db.connect()
    figures = {
        "store, one commit per event": await measure(db, store_single, single, 1),
        "bare Core, one commit per event": await measure(db, core_single, single, 1),
        f"store, {BATCH} per transaction": await measure(db, store_batched, n, 3),
        f"bare Core, {BATCH} per transaction": await measure(db, core_batched, n, 3),
    }
    return figures


def report(name: str, figures: dict[str, float]) -> None:
    print(f"\n{name}")
    for label, rate in figures.items():
        print(f"  {label:<42} {rate:>12,.0f} events/s")
    store = figures[f"store, {BATCH} per transaction"]
    bare = figures[f"bare Core, {BATCH} per transaction"]
    verdict = "OK" if store >= 0.7 * bare else "BELOW TARGET"
    print(f"  batched store / bare Core: {store / bare:.0%} (target >= 70 %) {verdict}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=20_000, help="events per batched run")
    parser.add_argument("--single", type=int, default=500, help="events per one-commit run")
    args = parser.parse_args()
    configure_logging("WARNING")

    with tempfile.TemporaryDirectory(prefix="gridsup-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        sqlite_db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            figures = await bench_engine("SQLite", sqlite_db, args.events, args.single)
        finally:
            await sqlite_db.disconnect()
        figures[f"raw sqlite3.executemany, {BATCH} per transaction"] = raw_sqlite(
            path, args.events, BATCH
        )
        figures["raw sqlite3.executemany, one transaction"] = raw_sqlite(
            path, args.events, args.events
        )
        report(f"SQLite (WAL, synchronous=FULL, file in {tmp})", figures)

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    pg = Database(args.pg_url, schema=schema)
    try:
        await pg.connect()
    except Exception as exc:
        print(f"\nPostgreSQL: skipped ({exc})")
        return
    try:
        async with pg.engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        figures = await bench_engine("PostgreSQL", pg, args.events, args.single)
        report(f"PostgreSQL ({pg.safe_url}, schema {schema})", figures)
    finally:
        async with pg.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await pg.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
