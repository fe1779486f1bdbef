"""An order's fee is the sum of its fills' fees, whichever arrived first and through
either write path of the StoreWriter, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gridsup.exchange.types import Trade as ExchangeTrade
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.store.database import Database
from gridsup.store.orders import OrderRepository
from gridsup.store.records import FillRecord, OrderRecord, OrderUpdateRecord, StoreWrite
from gridsup.store.writer import StoreWriter

CID = "gA1b0c1"


def order() -> OrderRecord:
    intent = OrderIntent(
        client_order_id=CID, symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT,
        amount=Decimal("0.003"), price=Decimal("100.1"),
    )  # fmt: skip
    return OrderRecord.from_intent(intent, exchange="binance", strategy="g1", timestamp=1)


def fill(trade_id: str, fee: str, currency: str = "USDT") -> FillRecord:
    trade = ExchangeTrade(
        id=trade_id, order_id="X1", client_order_id=CID, symbol="BTC/USDT", side=Side.BUY,
        price=Decimal("100.1"), amount=Decimal("0.001"), fee=Decimal(fee),
        fee_currency=currency, timestamp=int(trade_id[1:]),
    )  # fmt: skip
    return FillRecord.from_trade(trade, exchange="binance", strategy="g1")


def closed() -> OrderUpdateRecord:
    return OrderUpdateRecord(
        exchange="binance", client_order_id=CID, status=OrderStatus.CLOSED,
        filled=Decimal("0.003"), fee=Decimal(0),
    )  # fmt: skip


async def stored_fee(db: Database) -> tuple[Decimal, str | None]:
    async with db.session() as session:
        row = await OrderRepository(session).get("binance", CID)
    assert row is not None
    return row.fee, row.fee_currency


# Batches in the order they arrive: the fills before, with or after their order row.
ARRIVALS: list[list[list[StoreWrite]]] = [
    [[order(), fill("T1", "0.1001"), fill("T2", "0.1001")], [fill("T3", "0.0998"), closed()]],
    [[fill("T1", "0.1001")], [fill("T2", "0.1001"), fill("T3", "0.0998")], [order()]],
    [[order()], [fill("T1", "0.1001"), fill("T2", "0.1001"), fill("T3", "0.0998")], [order()]],
]


@pytest.mark.parametrize("arrival", ARRIVALS)
@pytest.mark.parametrize("path", ["write_batch", "write_requests"])
async def test_the_order_fee_is_the_sum_of_its_fills(
    db: Database, arrival: list[list[StoreWrite]], path: str
) -> None:
    writer = StoreWriter(db)

    for records in arrival:
        if path == "write_batch":
            await writer.write_batch(records)
        else:
            await writer.write_requests([records])
    await writer.write_batch([fill("T2", "0.1001")])  # a redelivered fill counts once

    assert await stored_fee(db) == (Decimal("0.3"), "USDT")


async def test_fills_in_two_currencies_leave_the_exchanges_fee(db: Database) -> None:
    writer = StoreWriter(db)

    await writer.write_batch([order(), fill("T1", "0.1"), fill("T2", "0.0002", "BNB")])

    assert await stored_fee(db) == (Decimal(0), None)
