"""Which records the store holds already: the persistence actor asks before a group
commit so that it can answer an idempotent re-send with ``Ack(duplicate=True)``.

Keys are the store's idempotency keys: fills by (exchange, symbol, trade id) (trade ids
repeat across symbols on Binance), order events by ``event_key``. Only the persistence
actor writes, so an answer stays true until it writes again.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, tuple_

from gridsup.store.database import Database
from gridsup.store.models import Fill, OrderEvent

# Bound on the IN (...) lists: SQLite allows 32766 variables, PostgreSQL 32767.
_CHUNK = 500

FillKey = tuple[str, str, str]  # (exchange, symbol, trade id)


async def known_keys(
    db: Database,
    *,
    fills: Collection[FillKey] = (),
    event_keys: Collection[str] = (),
) -> tuple[set[FillKey], set[str]]:
    """The subsets of ``fills`` ((exchange, symbol, trade id) triples) and
    ``event_keys`` that are stored already.

    Raises:
        TypeError: a fill key is not an (exchange, symbol, trade id) triple.
        DatabaseUnavailable: the database is away.
    """
    known_fills: set[FillKey] = set()
    known_events: set[str] = set()
    if not fills and not event_keys:
        return known_fills, known_events
    by_market: dict[tuple[str, str], list[str]] = {}
    for key in fills:
        if len(key) != 3:
            raise TypeError(
                f"fill key {key!r}: want (exchange, symbol, trade id); a trade id alone "
                "repeats across symbols"
            )
        exchange, symbol, trade_id = key
        by_market.setdefault((exchange, symbol), []).append(trade_id)
    keys = list(event_keys)
    async with db.session() as session:
        for (exchange, symbol), trade_ids in by_market.items():
            for i in range(0, len(trade_ids), _CHUNK):
                stmt = select(Fill.trade_id).where(
                    tuple_(Fill.exchange, Fill.symbol) == (exchange, symbol),
                    Fill.trade_id.in_(trade_ids[i : i + _CHUNK]),
                )
                known_fills.update((exchange, symbol, t) for t in await session.scalars(stmt))
        for i in range(0, len(keys), _CHUNK):
            stmt_e = select(OrderEvent.event_key).where(
                OrderEvent.event_key.in_(keys[i : i + _CHUNK])
            )
            known_events.update(k for k in (await session.scalars(stmt_e)) if k is not None)
    return known_fills, known_events
