"""``StoreWriter``: the persistence actor's way in. ``write_batch`` stores many records in
one transaction (group commit); ``write`` is the one-commit-per-record path;
``write_requests`` stores many requests in one transaction and tells which were stored
before.

Within a batch, records of one kind keep their order (the order-event log is appended in
the order given); every write is idempotent, so replaying a batch after a crash stores
nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, assert_never

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.database import Database
from gridsup.store.events import OrderEventLog
from gridsup.store.fills import FillRepository
from gridsup.store.group_commit import order_keys, store_requests
from gridsup.store.order_fees import refresh_order_fees
from gridsup.store.orders import OrderRepository
from gridsup.store.records import (
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    OrderUpdateRecord,
    RetiredIdsRecord,
    StateRecord,
    StoreWrite,
    TradeRecord,
)
from gridsup.store.retired_ids import RetiredIdLog
from gridsup.store.sqlite_trips import run_in_one_trip
from gridsup.store.state import state_row, upsert_states
from gridsup.store.trades import TradeRepository


class BatchCounts(msgspec.Struct, frozen=True, kw_only=True):
    orders: int = 0
    updates: int = 0
    fills: int = 0
    events: int = 0
    states: int = 0
    trades: int = 0
    retired: int = 0


class StoreWriter:
    """Writes ``StoreWrite`` records to ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, record: StoreWrite) -> None:
        """Store one record in its own transaction (one commit, one disk wait)."""
        await self.write_batch((record,))

    async def write_batch(self, records: Iterable[StoreWrite]) -> BatchCounts:
        """Store every record in one transaction: all of them, or (on error) none.

        Raises:
            DatabaseUnavailable: the database is away; nothing was stored.
            TypeError/ValueError: a state is not JSON-able or has a bad version.
        """
        # Order rows and updates keep their relative order: an update may follow the
        # insert of the same order within one batch.
        orders: list[OrderRecord | OrderUpdateRecord] = []
        fills: list[FillRecord] = []
        events: list[OrderEventRecord] = []
        # The last state of a strategy in the batch wins; earlier ones are superseded.
        states: dict[str, StateRecord] = {}
        trades: list[TradeRecord] = []
        retired: list[RetiredIdsRecord] = []
        for record in records:
            match record:
                case OrderRecord() | OrderUpdateRecord():
                    orders.append(record)
                case FillRecord():
                    fills.append(record)
                case OrderEventRecord():
                    events.append(record)
                case StateRecord():
                    states[record.strategy] = record
                case TradeRecord():
                    trades.append(record)
                case RetiredIdsRecord():
                    retired.append(record)
                case _:
                    assert_never(record)
        state_rows = [state_row(s.strategy, s.state, s.epoch) for s in states.values()]
        async with self.db.session() as session:
            await self._store(session, orders, fills, events, state_rows)
            if trades:
                await TradeRepository(session).add_closed_many(trades)
            await _append_retired(session, retired)
        updates = sum(isinstance(r, OrderUpdateRecord) for r in orders)
        return BatchCounts(
            orders=len(orders) - updates,
            updates=updates,
            fills=len(fills),
            events=len(events),
            states=len(state_rows),
            trades=len(trades),
            retired=sum(len(r.client_order_ids) for r in retired),
        )

    async def write_requests(self, requests: Sequence[Sequence[StoreWrite]]) -> list[bool]:
        """Store the records of many requests in one transaction, each request once;
        returns, per request, False when it was stored before.

        A request's keyed records (order events with an ``event_key``, fills, closed
        trades) say whether it is new: a key stored by an earlier transaction, or carried
        by an earlier request of ``requests``, makes it a duplicate, and then its other
        records (the order row an event moves forward, a state) are not written. The
        keyed inserts are ``ON CONFLICT DO NOTHING RETURNING`` their keys, so telling a
        re-send apart needs no lookup of its own; order rows are upserted after them,
        one per order (the most advanced), then order updates, then states (the last
        per strategy).

        Raises:
            DatabaseUnavailable: the database is away; nothing was stored.
            StoreError/TypeError/ValueError: a record cannot be stored; nothing was.
        """
        async with self.db.transaction() as conn:
            # The COMMIT in the same trip: transaction() commits right after.
            return await run_in_one_trip(
                conn, lambda sync: store_requests(sync, requests), commit=True
            )

    @staticmethod
    async def _store(
        session: AsyncSession,
        orders: list[OrderRecord | OrderUpdateRecord],
        fills: list[FillRecord],
        events: list[OrderEventRecord],
        state_rows: list[dict[str, Any]],
    ) -> None:
        # Events first: the audit log is what a replay starts from.
        if events:
            await OrderEventLog(session).append_many(events)
        if orders:
            await _apply_orders(OrderRepository(session), orders)
        if fills:
            await FillRepository(session).add_many(fills)
        if fills or orders:
            await refresh_order_fees(session, order_keys([*orders, *fills]))
        if state_rows:
            await upsert_states(session, state_rows)


async def _apply_orders(
    repo: OrderRepository, records: list[OrderRecord | OrderUpdateRecord]
) -> None:
    """Upserts in runs (one executemany each), updates one by one, in the given order."""
    run: list[OrderRecord] = []
    for record in records:
        if isinstance(record, OrderRecord):
            run.append(record)
            continue
        if run:
            await repo.upsert_many(run)
            run = []
        await repo.update_status(
            record.exchange,
            record.client_order_id,
            record.status,
            filled=record.filled,
            average=record.average,
            fee=record.fee,
            exchange_order_id=record.exchange_order_id,
        )
    if run:
        await repo.upsert_many(run)


async def _append_retired(session: AsyncSession, records: list[RetiredIdsRecord]) -> None:
    """Append retired client ids (idempotent: an id stored before stays as it is)."""
    log = RetiredIdLog(session)
    for record in records:
        await log.append(record.account, record.client_order_ids)
