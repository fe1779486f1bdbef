"""``OrderEventLog``: the append-only audit trail of every order request, acknowledgement,
update and fill, read back in the order it was written (for audit and replay)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.models import OrderEvent
from gridsup.store.records import OrderEventRecord
from gridsup.store.sql import Where, cached_statement, execute_core, given, insert_ignoring

_TABLE = OrderEvent.__table__
_ENCODER = msgspec.json.Encoder()  # Decimal -> "1.5": exact, and readable in SQL


def event_row(record: OrderEventRecord) -> dict[str, Any]:
    return {
        "event_key": record.event_key,
        "exchange": record.exchange,
        "strategy": record.strategy,
        "client_order_id": record.client_order_id,
        "kind": record.kind,
        "timestamp": record.timestamp,
        "payload": _ENCODER.encode(record.payload).decode(),
    }


def decode_payload(event: OrderEvent) -> dict[str, Any]:
    """The payload of a stored event as a dict (Decimals come back as strings)."""
    value = msgspec.json.decode(event.payload)
    assert isinstance(value, dict)
    return value


def new_events_statement(where: Where) -> Any:
    """The insert of events that returns the keys it stored (a key stored before is
    skipped, and not returned)."""
    return cached_statement(
        where,
        "order_events.append_new",
        lambda: insert_ignoring(where, "order_events.append", _TABLE, "event_key").returning(
            _TABLE.c.event_key
        ),
    )


class OrderEventLog:
    """Append and read the order-event log. Works inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        return insert_ignoring(self.session, "order_events.append", _TABLE, "event_key")

    async def append(self, record: OrderEventRecord) -> bool:
        """Append one event; False when its ``event_key`` was appended before."""
        result = await execute_core(self.session, self._insert(), event_row(record))
        return bool(getattr(result, "rowcount", 0))

    async def append_new(self, records: Iterable[OrderEventRecord]) -> set[str]:
        """Append events in the given order; returns the keys appended now, so a key
        appended before is told apart by the insert itself, with no lookup of its own."""
        rows = [event_row(r) for r in records]
        if not rows:
            return set()
        result = await execute_core(self.session, new_events_statement(self.session), rows)
        return {key for key in result.scalars() if key is not None}

    async def append_many(self, records: Iterable[OrderEventRecord]) -> None:
        """Append events in the given order (redelivered keys are skipped)."""
        rows = [event_row(r) for r in records]
        if rows:
            await execute_core(self.session, self._insert(), rows)

    async def read(
        self,
        *,
        strategy: str | None = None,
        client_order_id: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> Sequence[OrderEvent]:
        """Events in the order they were appended, after ``after_id`` (for paging)."""
        stmt = (
            select(OrderEvent)
            .where(OrderEvent.id > after_id)
            .filter_by(**given(strategy=strategy, client_order_id=client_order_id))
            .order_by(OrderEvent.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return (await self.session.execute(stmt)).scalars().all()
