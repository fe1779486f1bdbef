"""Which records the store holds already: the persistence actor asks before a group
commit so that it can answer an idempotent re-send with ``Ack(duplicate=True)``.

Keys are the store's idempotency keys: fills by (exchange, trade id), order events by
``event_key``. Only the persistence actor writes, so an answer stays true until it
writes again.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from gridsup.store.database import Database
from gridsup.store.models import Fill, OrderEvent

# Bound on the IN (...) lists: SQLite allows 32766 variables, PostgreSQL 32767.
_CHUNK = 500


async def known_keys(
    db: Database,
    *,
    fills: Collection[tuple[str, str]] = (),
    event_keys: Collection[str] = (),
) -> tuple[set[tuple[str, str]], set[str]]:
    """The subsets of ``fills`` ((exchange, trade id) pairs) and ``event_keys`` that
    are stored already.

    Raises:
        DatabaseUnavailable: the database is away.
    """
    known_fills: set[tuple[str, str]] = set()
    known_events: set[str] = set()
    if not fills and not event_keys:
        return known_fills, known_events
    by_exchange: dict[str, list[str]] = {}
    for exchange, trade_id in fills:
        by_exchange.setdefault(exchange, []).append(trade_id)
    keys = list(event_keys)
    async with db.session() as session:
        for exchange, trade_ids in by_exchange.items():
            for i in range(0, len(trade_ids), _CHUNK):
                stmt = select(Fill.trade_id).where(
                    Fill.exchange == exchange, Fill.trade_id.in_(trade_ids[i : i + _CHUNK])
                )
                known_fills.update((exchange, t) for t in (await session.scalars(stmt)))
        for i in range(0, len(keys), _CHUNK):
            stmt_e = select(OrderEvent.event_key).where(
                OrderEvent.event_key.in_(keys[i : i + _CHUNK])
            )
            known_events.update(k for k in (await session.scalars(stmt_e)) if k is not None)
    return known_fills, known_events
