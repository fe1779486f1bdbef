"""The dashboard's history pages: a ``before`` cursor keeps pages apart while rows arrive."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.store.dashboard import BadCursor, orders_page
from gridsup.store.database import Database
from gridsup.store.orders import OrderRepository
from gridsup.store.records import OrderRecord

BASE = OrderRecord(
    exchange="binance",
    strategy="g1",
    client_order_id="",
    symbol="BTC/USDT",
    side=Side.BUY,
    type=OrderType.LIMIT,
    status=OrderStatus.OPEN,
    price=Decimal("100"),
    amount=Decimal("1"),
    filled=Decimal("0"),
    timestamp=0,
)


async def add(db: Database, cids: range, ts: int) -> None:
    async with db.session() as session:
        for n in cids:
            cid = f"c{n:03d}"
            await OrderRepository(session).upsert(
                msgspec.structs.replace(BASE, client_order_id=cid, timestamp=ts)
            )


async def test_the_cursor_pages_without_repeats_while_new_orders_arrive(db: Database) -> None:
    # Two orders share each timestamp, so the cursor must break ties by row.
    for n in range(0, 10, 2):
        await add(db, range(n, n + 2), 1_000 + n)
    first = await orders_page(db, "g1", limit=3)
    assert [o["client_order_id"] for o in first["items"]] == ["c009", "c008", "c007"]
    await add(db, range(10, 14), 5_000)  # the grid trades on between the two reads
    second = await orders_page(db, "g1", limit=3, before=first["next"])
    assert [o["client_order_id"] for o in second["items"]] == ["c006", "c005", "c004"]
    by_offset = await orders_page(db, "g1", offset=3, limit=3)
    assert by_offset["items"][0]["client_order_id"] == "c010"  # what offsets do instead
    rest = await orders_page(db, "g1", limit=10, before=second["next"])
    assert [o["client_order_id"] for o in rest["items"]] == ["c003", "c002", "c001", "c000"]
    assert rest["next"] is None and rest["total"] == 14


async def test_a_cursor_not_handed_out_is_refused(db: Database) -> None:
    with pytest.raises(BadCursor, match="not a cursor"):
        await orders_page(db, "g1", before="12ab")
