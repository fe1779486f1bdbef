"""The persistence actor's group commit under the fleet's burst shape, on SQLite and
PostgreSQL, beside bare SQLAlchemy Core writing the same rows.

    .venv/bin/python bench/persistence.py [--pg-url URL] [--grids N] [--rounds N]

One round is the price move that fills one order on each of ``--grids`` dry-run grids,
as the persistence actor receives it (issue 6's fleet):

1. ``fills``: N RecordFill + N RecordOrderEvent (the buy filled) + the paper account's
   snapshot (a SaveState of ~300 kB), from the execution actor;
2. ``states``: N SaveState of ~2 kB, one per strategy actor;
3. ``counters``: N RecordOrderEvent (the counter sells placed) + the paper snapshot.

Each batch goes through the real ``PersistenceActor._commit`` (no sockets), after a
warm-up round, so the actor's caches are as in a running fleet. Printed per batch: the
median wall ms and process CPU ms (the aiosqlite thread included; PostgreSQL's server CPU
not) over ``--rounds``, and the same for the baseline: the batch's rows built before the
clock starts and written with Core ``executemany`` in one transaction (plain inserts;
the upserts orders and states need), no duplicate detection.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from gridsup.actors.persistence.actor import PersistenceActor
from gridsup.actors.persistence.records import request_records
from gridsup.actors.run_config import PAPER_ACCOUNT_KEY, Mode, RunConfig
from gridsup.logging import configure_logging
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.store import RecordFill, RecordOrderEvent, SaveState, StoreRequest
from gridsup.store.database import Database
from gridsup.store.events import event_row
from gridsup.store.fills import fill_row
from gridsup.store.models import Base, Fill, OrderEvent
from gridsup.store.orders import most_advanced, order_row
from gridsup.store.records import FillRecord, OrderEventRecord, OrderRecord, StateRecord
from gridsup.store.state import state_row, upsert_states

PAPER_BYTES = 300_000
STATE_BYTES = 2_000
ENVELOPE = [b"bench"]
Batch = list[StoreRequest]


def _blob(size: int, salt: int) -> bytes:
    """Msgpack-like bytes of ``size`` (content does not matter, only its size)."""
    unit = f'{{"cid":"gs{salt:05d}b0012","price":"60000.10","amount":"0.001"}},'.encode()
    return (unit * (size // len(unit) + 1))[:size]


def _intent(grid: int, cycle: int, side: Side) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"g{grid:04d}{side.value[0]}{cycle:06d}",
        symbol="BTC/USDT",
        side=side,
        type=OrderType.LIMIT,
        amount=Decimal("0.001"),
        price=Decimal("60000.10") + grid,
    )


class Fleet:
    """The bursts of successive rounds: new keys, higher versions each time."""

    def __init__(self, grids: int) -> None:
        self.grids = grids
        self.cycle = 0
        self.paper_version = 0
        self.states = [0] * grids
        self.now = 1_700_000_000_000

    def _paper(self) -> SaveState:
        self.paper_version += 1
        return SaveState(
            request_id=uuid.uuid4().hex,
            grid_id=PAPER_ACCOUNT_KEY,
            version=self.paper_version,
            state=_blob(PAPER_BYTES, self.paper_version),
        )

    def _event(self, grid: int, intent: OrderIntent, status: OrderStatus, key: str) -> Any:
        filled = intent.amount if status is OrderStatus.CLOSED else None
        return RecordOrderEvent(
            request_id=uuid.uuid4().hex,
            event_id=f"paper:{intent.client_order_id}:{key}",
            grid_id=f"grid-{grid}",
            exchange="paper",
            client_order_id=intent.client_order_id,
            status=status,
            timestamp=self.now,
            intent=intent,
            exchange_order_id=f"{grid}-{self.cycle}",
            reason="filled" if filled is not None else "acknowledged",
            filled=filled,
        )

    def _fill(self, grid: int, intent: OrderIntent) -> RecordFill:
        report = FillReport(
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            price=intent.price or Decimal(1),
            amount=intent.amount,
            fee=Decimal("0.06"),
            fee_currency="USDT",
            trade_id=f"t{grid}-{self.cycle}",
            timestamp=self.now,
            order_filled=intent.amount,
            order_closed=True,
        )
        return RecordFill(
            request_id=uuid.uuid4().hex,
            grid_id=f"grid-{grid}",
            exchange="paper",
            exchange_order_id=f"{grid}-{self.cycle}",
            fill=report,
        )

    def round(self) -> list[tuple[str, Batch]]:
        """(name, requests) of the three batches of one price move."""
        self.cycle += 1
        self.now += 60_000
        fills: Batch = []
        for g in range(self.grids):
            buy = _intent(g, self.cycle, Side.BUY)
            fills.append(self._fill(g, buy))
            fills.append(self._event(g, buy, OrderStatus.CLOSED, f"fill:t{g}-{self.cycle}"))
        fills.append(self._paper())
        states: Batch = []
        for g in range(self.grids):
            self.states[g] += 1
            states.append(
                SaveState(
                    request_id=uuid.uuid4().hex,
                    grid_id=f"grid-{g}",
                    version=self.states[g],
                    state=_blob(STATE_BYTES, g),
                )
            )
        counters: Batch = [
            self._event(g, _intent(g, self.cycle, Side.SELL), OrderStatus.OPEN, "placed")
            for g in range(self.grids)
        ]
        counters.append(self._paper())
        return [("fills", fills), ("states", states), ("counters", counters)]


def baseline_rows(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    """The rows ``batch`` stores, built outside the timed region."""
    records = [r for m in batch for r in request_records(m)]
    states = {r.strategy: r for r in records if isinstance(r, StateRecord)}
    orders = [r for r in records if isinstance(r, OrderRecord)]
    return {
        "events": [event_row(r) for r in records if isinstance(r, OrderEventRecord)],
        "fills": [fill_row(r) for r in records if isinstance(r, FillRecord)],
        "orders": [order_row(r) for r in most_advanced(orders)],
        "states": [state_row(s.strategy, s.state) for s in states.values()],
    }


async def baseline(db: Database, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Bare Core executemany of ready rows, one transaction (the upserts the store's
    statements are, as nothing plainer can replace a row)."""
    from gridsup.store.orders import upsert_statement  # here: --against runs older code

    async with db.session() as session:
        conn = await session.connection()
        if rows["events"]:
            await conn.execute(insert(OrderEvent.__table__), rows["events"])
        if rows["fills"]:
            await conn.execute(insert(Fill.__table__), rows["fills"])
        if rows["orders"]:
            await conn.execute(upsert_statement(session), rows["orders"])
        if rows["states"]:
            await upsert_states(session, rows["states"])


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one awaited call."""
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


async def reset(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)


async def bench_engine(
    db: Database, url: str, schema: str | None, grids: int, rounds: int
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per batch name: the actor's and the baseline's (wall, cpu) of each round; the
    actor and the baseline alternate round by round on separate, fresh tables."""
    await reset(db)
    run = RunConfig(
        run_dir="unused", exchange_id="paper", mode=Mode.DRY_RUN, db_url=url, markets={}, grids=()
    )
    actor = PersistenceActor(run, schema=schema)
    await actor.db.connect()
    try:
        fleet = Fleet(grids)
        out: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for n in range(rounds + 1):  # round 0 warms caches and statements
            for name, batch in fleet.round():
                envelopes = [(ENVELOPE, m) for m in batch]
                replies: list[Any] = []

                async def commit(envelopes: Any = envelopes, replies: Any = replies) -> None:
                    replies.extend(await actor._commit(envelopes))

                actor_cost = await timed(commit)
                assert all(r.ok and not r.duplicate for _, r in replies), replies[:3]
                rows = baseline_rows(batch)
                base_cost = await timed(lambda rows=rows: baseline(db, rows))
                if n:
                    costs = out.setdefault(name, {"actor": [], "baseline": []})
                    costs["actor"].append(actor_cost)
                    costs["baseline"].append(base_cost)
    finally:
        await actor.db.disconnect()
    return out


def report(title: str, figures: dict[str, dict[str, list[tuple[float, float]]]]) -> None:
    print(f"\n{title}")
    print(f"  {'batch':<10} {'actor ms':>9} {'CPU ms':>8}   {'baseline ms':>11} {'CPU ms':>8}")
    for name, costs in figures.items():
        actor = [statistics.median(c) for c in zip(*costs["actor"], strict=True)]
        base = [statistics.median(c) for c in zip(*costs["baseline"], strict=True)]
        print(f"  {name:<10} {actor[0]:>9.1f} {actor[1]:>8.1f}   {base[0]:>11.1f} {base[1]:>8.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (median kept)")
    args = parser.parse_args()
    configure_logging("WARNING")

    with tempfile.TemporaryDirectory(prefix="gridsup-bench-") as tmp:
        # Two files: the actor's tables and the baseline's, so neither sees the other's keys.
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'actor.db'}"
        base = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'baseline.db'}")
        await base.connect()
        try:
            async with Database(url) as actor_db:
                await reset(actor_db)
            figures = await bench_engine(base, url, None, args.grids, args.rounds)
        finally:
            await base.disconnect()
        report(f"SQLite (WAL, synchronous=FULL), {args.grids} grids", figures)

    actor_schema, base_schema = (f"bench_{uuid.uuid4().hex[:10]}" for _ in range(2))
    base = Database(args.pg_url, schema=base_schema)
    try:
        await base.connect()
    except Exception as exc:
        print(f"\nPostgreSQL: skipped ({exc})")
        return
    try:
        async with base.engine.begin() as conn:
            for schema in (actor_schema, base_schema):
                await conn.execute(text(f"CREATE SCHEMA {schema}"))
        async with Database(args.pg_url, schema=actor_schema) as actor_db:
            await reset(actor_db)
        figures = await bench_engine(base, args.pg_url, actor_schema, args.grids, args.rounds)
        report(f"PostgreSQL ({base.safe_url}), {args.grids} grids", figures)
    finally:
        async with base.engine.begin() as conn:
            for schema in (actor_schema, base_schema):
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await base.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
