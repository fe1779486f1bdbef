"""The statements of one group commit, on a sync SQLAlchemy ``Connection``.

:meth:`StoreWriter.write_requests <gridsup.store.writer.StoreWriter.write_requests>` runs
:func:`store_requests` in one go inside its transaction: on SQLite in one trip to
aiosqlite's thread (``sqlite_trips.run_in_one_trip``), on PostgreSQL in one
``run_sync`` (one greenlet for all the statements, not one per statement). The
statements and rows are the repositories' own (``new_events_statement``,
``upsert_statement`` ...), so a record is stored the same way on either path.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from sqlalchemy.engine import Connection

from gridsup.store.events import event_row, new_events_statement
from gridsup.store.fills import fill_row, new_fills_statement
from gridsup.store.order_fees import refresh_order_fees_on
from gridsup.store.orders import most_advanced, order_row, status_update, upsert_statement
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
from gridsup.store.retired_ids import retired_insert, retired_rows
from gridsup.store.state import refuse_fenced, state_row, states_upsert_statement
from gridsup.store.trades import closed_rows, new_closed_statement


def store_requests(conn: Connection, requests: Sequence[Sequence[StoreWrite]]) -> list[bool]:
    """Store the records of ``requests``, each request once; per request, False when it
    was stored before (see ``StoreWriter.write_requests``). Commits nothing: the
    caller's transaction does.

    Raises:
        StateFenced/StatementError/DBAPIError: as the statements do; the caller's
            transaction then stores nothing.
    """
    keys = [{k for k in map(record_key, request) if k is not None} for request in requests]
    first = _first_of_their_keys(keys)
    stored = _insert_keyed(conn, _records_of(requests, first))
    new = [ok and own <= stored for own, ok in zip(keys, first, strict=True)]
    written = _records_of(requests, new)
    _store_unkeyed(conn, written)
    touched = order_keys(written)
    if touched:
        refresh_order_fees_on(conn, touched)
    return new


def order_keys(records: Iterable[StoreWrite]) -> set[tuple[str, str]]:
    """The orders (exchange, client order id) whose fee is summed again from their fills:
    those of the fills in ``records``, and those whose row an order record or update
    (re)writes once they are (partly) filled; an unfilled order has no fills."""
    keys: set[tuple[str, str]] = set()
    for record in records:
        match record:
            case FillRecord(client_order_id=str() as cid):
                keys.add((record.exchange, cid))
            case OrderRecord() if record.filled > 0:
                keys.add((record.exchange, record.client_order_id))
            case OrderUpdateRecord() if (record.filled or 0) > 0 or record.fee is not None:
                keys.add((record.exchange, record.client_order_id))
    return keys


def record_key(record: StoreWrite) -> Hashable | None:
    """The idempotency key of a keyed record (None for the others)."""
    match record:
        case OrderEventRecord(event_key=str() as key):
            return ("event", key)
        case FillRecord():
            return ("fill", record.exchange, record.symbol, record.trade_id)
        case TradeRecord():
            return ("trade", record.exchange, record.strategy, record.close_order_id)
    return None


def _first_of_their_keys(keys: list[set[Hashable]]) -> list[bool]:
    """Per request (its keys): False when an earlier request carries one of them."""
    seen: set[Hashable] = set()
    out: list[bool] = []
    for own in keys:
        out.append(seen.isdisjoint(own))
        seen |= own
    return out


def _records_of(requests: Sequence[Sequence[StoreWrite]], chosen: list[bool]) -> list[StoreWrite]:
    return [r for request, ok in zip(requests, chosen, strict=True) if ok for r in request]


def _insert_keyed(conn: Connection, records: list[StoreWrite]) -> set[Hashable]:
    """Insert every event, fill and closed trade (``ON CONFLICT DO NOTHING RETURNING``
    their keys); the keys of those stored now."""
    events = [event_row(r) for r in records if isinstance(r, OrderEventRecord)]
    fills = [fill_row(r) for r in records if isinstance(r, FillRecord)]
    trades = closed_rows(r for r in records if isinstance(r, TradeRecord))
    stored: set[Hashable] = set()
    if events:
        result = conn.execute(new_events_statement(conn), events)
        stored.update(("event", k) for k in result.scalars() if k is not None)
    if fills:
        result = conn.execute(new_fills_statement(conn), fills)
        stored.update(("fill", *k) for k in result)
    if trades:
        result = conn.execute(new_closed_statement(conn), trades)
        stored.update(("trade", *k) for k in result)
    return stored


def _store_unkeyed(conn: Connection, records: list[StoreWrite]) -> None:
    """Order rows (the most advanced per order, one executemany), then order updates one
    by one, then states (the last per strategy), then retired client ids."""
    orders = most_advanced(r for r in records if isinstance(r, OrderRecord))
    if orders:
        conn.execute(upsert_statement(conn), [order_row(r) for r in orders])
    for update in (r for r in records if isinstance(r, OrderUpdateRecord)):
        conn.execute(
            status_update(
                update.exchange,
                update.client_order_id,
                update.status,
                filled=update.filled,
                average=update.average,
                fee=update.fee,
                exchange_order_id=update.exchange_order_id,
            )
        )
    states = {r.strategy: r for r in records if isinstance(r, StateRecord)}
    if states:
        rows = [state_row(s.strategy, s.state, s.epoch) for s in states.values()]
        result = conn.execute(states_upsert_statement(conn), rows)
        refuse_fenced(rows, {row[0] for row in result.all()})
    for retired in (r for r in records if isinstance(r, RetiredIdsRecord)):
        rows = retired_rows(retired.account, retired.client_order_ids)
        if rows:
            conn.execute(retired_insert(conn), rows)
