"""write_batch: many records in one transaction, idempotent on replay, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from gridsup.exchange.types import Trade as ExchangeTrade
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.store.database import Database
from gridsup.store.errors import MoneyRangeError
from gridsup.store.events import OrderEventLog
from gridsup.store.fills import FillRepository
from gridsup.store.orders import OrderRepository
from gridsup.store.records import (
    FillRecord,
    OrderEventKind,
    OrderEventRecord,
    OrderRecord,
    OrderUpdateRecord,
    StateRecord,
    StoreWrite,
)
from gridsup.store.state import DatabaseStateStore
from gridsup.store.writer import StoreWriter


def batch(n: int, price: str = "100.1") -> list[StoreWrite]:
    intent = OrderIntent(
        client_order_id="gA1b0c1",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=Decimal("0.001"),
        price=Decimal(price),
    )
    records: list[StoreWrite] = [
        OrderRecord.from_intent(intent, exchange="binance", strategy="g1", timestamp=1, level=3)
    ]
    for i in range(n):
        records.append(
            OrderEventRecord(
                exchange="binance",
                strategy="g1",
                client_order_id=intent.client_order_id,
                kind=OrderEventKind.UPDATED,
                timestamp=i,
                event_key=f"binance:g1:{i}",
            )
        )
    trade = ExchangeTrade(
        id="T1",
        order_id="X1",
        client_order_id=intent.client_order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        price=Decimal(price),
        amount=Decimal("0.001"),
        fee=Decimal("0.000001"),
        fee_currency="BTC",
        timestamp=5,
    )
    records.append(FillRecord.from_trade(trade, exchange="binance", strategy="g1"))
    records.append(StateRecord(strategy="g1", state={"version": 1, "n": 1}))
    records.append(StateRecord(strategy="g1", state={"version": 1, "n": 2}))
    return records


async def stored(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        events = await OrderEventLog(session).read()
        fills = await FillRepository(session).history()
        orders = await OrderRepository(session).history()
    return len(events), len(fills), len(orders)


async def test_a_batch_is_stored_in_one_go_and_a_replay_adds_nothing(db: Database) -> None:
    writer = StoreWriter(db)
    counts = await writer.write_batch(batch(50))
    await writer.write_batch(batch(50))  # redelivered after a crash
    assert (counts.events, counts.fills, counts.orders, counts.states) == (50, 1, 1, 1)
    assert await stored(db) == (50, 1, 1)
    assert await DatabaseStateStore(db).load("g1") == {"version": 1, "n": 2}
    async with db.session() as session:
        order = await OrderRepository(session).get("binance", "gA1b0c1")
    assert order is not None and (order.level, order.status) == (3, OrderStatus.OPEN)


async def test_one_commit_per_record_path(db: Database) -> None:
    writer = StoreWriter(db)
    for record in batch(5):
        await writer.write(record)
    assert await stored(db) == (5, 1, 1)


async def test_a_failing_record_stores_nothing_of_its_batch(db: Database) -> None:
    with pytest.raises(MoneyRangeError):
        await StoreWriter(db).write_batch(batch(10, price="1e-25"))
    assert await stored(db) == (0, 0, 0)
    assert await DatabaseStateStore(db).load("g1") is None


async def test_order_updates_follow_their_insert_in_one_batch(db: Database) -> None:
    (placed,) = [r for r in batch(0) if isinstance(r, OrderRecord)]
    cid = placed.client_order_id

    def update(status: OrderStatus, filled: str, cid: str = cid) -> OrderUpdateRecord:
        return OrderUpdateRecord(
            exchange="binance", client_order_id=cid, status=status, filled=Decimal(filled),
            exchange_order_id="X9",
        )  # fmt: skip

    counts = await StoreWriter(db).write_batch(
        [
            placed,
            update(OrderStatus.OPEN, "0.0005"),
            update(OrderStatus.CLOSED, "0.001"),
            update(OrderStatus.OPEN, "0.0005"),  # late and older: ignored
            update(OrderStatus.CLOSED, "1", cid="unknown"),  # not stored: ignored
        ]
    )
    async with db.session() as session:
        order = await OrderRepository(session).get("binance", cid)
        unknown = await OrderRepository(session).get("binance", "unknown")
    assert (counts.orders, counts.updates) == (1, 4)
    assert order is not None
    assert (order.status, order.filled, order.exchange_order_id) == (
        OrderStatus.CLOSED,
        Decimal("0.001"),
        "X9",
    )
    assert unknown is None


async def test_one_order_several_times_in_one_batch_ends_most_advanced(db: Database) -> None:
    (placed,) = [r for r in batch(0) if isinstance(r, OrderRecord)]
    steps = [(OrderStatus.OPEN, "0.0005"), (OrderStatus.CLOSED, "0.001"), (OrderStatus.OPEN, "0")]
    await StoreWriter(db).write_batch(
        [placed] + [msgspec.structs.replace(placed, status=s, filled=Decimal(f)) for s, f in steps]
    )
    async with db.session() as session:
        order = await OrderRepository(session).get("binance", placed.client_order_id)
    assert order is not None
    assert (order.status, order.filled) == (OrderStatus.CLOSED, Decimal("0.001"))


def closed_trade(close_id: str, profit: str = "0.0123", strategy: str = "g1") -> StoreWrite:
    from gridsup.store.records import TradeRecord

    return TradeRecord(
        exchange="paper",
        strategy=strategy,
        symbol="BTC/USDT",
        amount=Decimal("0.001"),
        open_price=Decimal("100"),
        open_order_id="gA1b0c1",
        opened_at=1,
        close_price=Decimal("110"),
        close_order_id=close_id,
        closed_at=2,
        fee=Decimal("0.00021"),
        profit=Decimal(profit),
    )


async def test_closed_trades_are_stored_once_by_close_order_id(db: Database) -> None:
    from gridsup.store.trades import TradeRepository

    writer = StoreWriter(db)
    counts = await writer.write_batch([closed_trade("gA1s1c1"), closed_trade("gA1s1c2", "-1")])
    assert counts.trades == 2
    # A replay, and the same close order id of another grid (a different key).
    await writer.write_batch(
        [closed_trade("gA1s1c1", "999"), closed_trade("gA1s1c1", strategy="g2")]
    )
    async with db.session() as session:
        repo = TradeRepository(session)
        rows = await repo.history(strategy="g1")
        stats = await repo.statistics(strategy="g1")
        known = await repo.known_closed(
            [("paper", "g1", "gA1s1c1"), ("paper", "g1", "nope"), ("paper", "g2", "gA1s1c1")]
        )
    assert sorted(r.close_order_id or "" for r in rows) == ["gA1s1c1", "gA1s1c2"]
    assert all(not r.is_open and r.side is Side.BUY for r in rows)
    assert stats.trades == 2 and stats.total_profit == Decimal("-0.9877")
    assert known == {("paper", "g1", "gA1s1c1"), ("paper", "g2", "gA1s1c1")}


def event(key: str, status: OrderStatus = OrderStatus.OPEN, filled: str = "0") -> list[StoreWrite]:
    """One RecordOrderEvent's records: the log line and the order row it moves forward."""
    (placed,) = [r for r in batch(0) if isinstance(r, OrderRecord)]
    return [
        OrderEventRecord(
            exchange="binance", strategy="g1", client_order_id=placed.client_order_id,
            kind=OrderEventKind.UPDATED, timestamp=1, event_key=key,
        ),
        msgspec.structs.replace(placed, status=status, filled=Decimal(filled)),
    ]  # fmt: skip


def one_fill(trade_id: str, price: str = "100.1") -> list[StoreWrite]:
    return [
        FillRecord(
            exchange="binance", trade_id=trade_id, symbol="BTC/USDT", side=Side.BUY,
            price=Decimal(price), amount=Decimal("0.001"), timestamp=1, strategy="g1",
        )
    ]  # fmt: skip


async def test_requests_stored_before_or_earlier_in_the_batch_are_told_apart(
    db: Database,
) -> None:
    writer = StoreWriter(db)
    assert await writer.write_requests([event("e1"), one_fill("t1")]) == [True, True]

    outcome = await writer.write_requests(
        [
            event("e1", OrderStatus.CLOSED, "0.001"),  # stored by the last transaction
            one_fill("t1"),  # idem
            one_fill("t2"),  # new
            one_fill("t2"),  # the same key earlier in this batch
            event("e2", OrderStatus.OPEN, "0.0005"),  # new
            [StateRecord(strategy="g1", state={"version": 1, "n": 7})],  # no key: new
        ]
    )

    assert outcome == [False, False, True, False, True, True]
    assert await stored(db) == (2, 2, 1)
    async with db.session() as session:
        order = await OrderRepository(session).get("binance", "gA1b0c1")
    # The duplicate event's order row (closed) was not written; the new one's was.
    assert order is not None and (order.status, order.filled) == (
        OrderStatus.OPEN,
        Decimal("0.0005"),
    )
    assert await DatabaseStateStore(db).load("g1") == {"version": 1, "n": 7}


async def test_closed_trades_re_sent_are_told_apart(db: Database) -> None:
    writer = StoreWriter(db)
    first = await writer.write_requests([[closed_trade("c1")], [closed_trade("c2")]])
    again = await writer.write_requests(
        [[closed_trade("c2")], [closed_trade("c3")], [closed_trade("c2", strategy="g2")]]
    )
    assert (first, again) == ([True, True], [False, True, True])


async def test_a_bad_request_stores_nothing_of_its_batch(db: Database) -> None:
    with pytest.raises(MoneyRangeError):
        await StoreWriter(db).write_requests([event("e1"), one_fill("t1", price="1e-25")])
    assert await stored(db) == (0, 0, 0)
