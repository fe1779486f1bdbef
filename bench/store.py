"""Order events stored per second: the store's own write path against bare SQLAlchemy
Core and raw sqlite3, one commit per event and 100 events per transaction, on SQLite
and PostgreSQL, all in the same run.

    .venv/bin/python bench/store.py [--pg-url URL] [--events N] [--single N] [--rounds N]

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


async def measure(db: Database, case: Case, n: int) -> float:
    """Events/s of one run of ``case`` over ``n`` events, on empty tables."""
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
    return n / elapsed


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


async def bench_engine(db: Database, n: int, single: int, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` per case, the cases interleaved round by round, so a burst of
    load from elsewhere on the machine hits the store and the baseline alike."""
    await db.connect()
    cases: list[tuple[str, Case, int]] = [
        ("store, one commit per event", store_single, single),
        ("bare Core, one commit per event", core_single, single),
        (f"store, {BATCH} per transaction", store_batched, n),
        (f"bare Core, {BATCH} per transaction", core_batched, n),
    ]
    figures = dict.fromkeys((label for label, _, _ in cases), 0.0)
    for _ in range(rounds):
        for label, case, count in cases:
            figures[label] = max(figures[label], await measure(db, case, count))
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
    parser.add_argument("--events", type=int, default=10_000, help="events per batched run")
    parser.add_argument("--single", type=int, default=300, help="events per one-commit run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best kept)")
    args = parser.parse_args()
    configure_logging("WARNING")

    with tempfile.TemporaryDirectory(prefix="gridsup-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        sqlite_db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            figures = await bench_engine(sqlite_db, args.events, args.single, args.rounds)
        finally:
            await sqlite_db.disconnect()
        figures[f"raw sqlite3.executemany, {BATCH} per transaction"] = max(
            raw_sqlite(path, args.events, BATCH) for _ in range(args.rounds)
        )
        figures["raw sqlite3.executemany, one transaction"] = max(
            raw_sqlite(path, args.events, args.events) for _ in range(args.rounds)
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
        figures = await bench_engine(pg, args.events, args.single, args.rounds)
        report(f"PostgreSQL ({pg.safe_url}, schema {schema})", figures)
    finally:
        async with pg.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await pg.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
