"""Orders, fills, the order-event log and trades: idempotent writes, queries, stats."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.store.database import Database
from gridsup.store.events import OrderEventLog, decode_payload
from gridsup.store.fills import FillRepository
from gridsup.store.orders import OrderRepository
from gridsup.store.records import FillRecord, OrderEventKind, OrderEventRecord, OrderRecord
from gridsup.store.trades import TradeAlreadyClosed, TradeNotFound, TradeRepository

D = Decimal


def order(
    cid: str,
    status: OrderStatus = OrderStatus.OPEN,
    filled: str = "0",
    *,
    strategy: str = "g1",
    price: str = "100",
    symbol: str = "BTC/USDT",
) -> OrderRecord:
    return OrderRecord(
        exchange="binance",
        strategy=strategy,
        client_order_id=cid,
        symbol=symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=status,
        price=D(price),
        amount=D("2"),
        filled=D(filled),
        timestamp=1_700_000_000_000,
    )


def fill(trade_id: str, cid: str = "c1") -> FillRecord:
    return FillRecord(
        exchange="binance",
        trade_id=trade_id,
        client_order_id=cid,
        strategy="g1",
        symbol="BTC/USDT",
        side=Side.BUY,
        price=D("100.5"),
        amount=D("0.5"),
        fee=D("0.0005"),
        fee_currency="BTC",
        timestamp=1_700_000_000_500,
    )


async def test_order_upsert_is_idempotent(db: Database) -> None:
    for _ in range(3):
        async with db.session() as session:
            await OrderRepository(session).upsert(order("c1"))
    async with db.session() as session:
        stored = await OrderRepository(session).history()
    assert [(o.client_order_id, o.status, o.amount) for o in stored] == [
        ("c1", OrderStatus.OPEN, D(2))
    ]


# (first update, then a late older one) -> what must remain
MONOTONIC = [
    ((OrderStatus.OPEN, "1"), (OrderStatus.OPEN, "0"), (OrderStatus.OPEN, D(1))),
    ((OrderStatus.CLOSED, "2"), (OrderStatus.OPEN, "1"), (OrderStatus.CLOSED, D(2))),
    ((OrderStatus.CANCELED, "1"), (OrderStatus.OPEN, "1"), (OrderStatus.CANCELED, D(1))),
    ((OrderStatus.OPEN, "1"), (OrderStatus.CLOSED, "2"), (OrderStatus.CLOSED, D(2))),
]


@pytest.mark.parametrize(("first", "late", "expected"), MONOTONIC)
async def test_order_updates_only_move_forward(
    db: Database,
    first: tuple[OrderStatus, str],
    late: tuple[OrderStatus, str],
    expected: tuple[OrderStatus, Decimal],
) -> None:
    async with db.session() as session:
        repo = OrderRepository(session)
        await repo.upsert(order("c1"))
        await repo.upsert(order("c1", *first))
        await repo.upsert(order("c1", *late))
    async with db.session() as session:
        stored = await OrderRepository(session).get("binance", "c1")
    assert stored is not None
    assert (stored.status, stored.filled) == expected


async def test_update_status_and_open_orders(db: Database) -> None:
    async with db.session() as session:
        repo = OrderRepository(session)
        await repo.upsert_many(
            [order("a", price="101"), order("b", price="99.5"), order("c", strategy="g2")]
        )
        market = msgspec.structs.replace(order("m"), type=OrderType.MARKET, price=None)
        await repo.upsert_many([market, order("d", price="100")])
        applied = await repo.update_status(
            "binance", "a", OrderStatus.CLOSED, filled=D(2), exchange_order_id="X1"
        )
        unknown = await repo.update_status("binance", "nope", OrderStatus.CLOSED)
        stale = await repo.update_status("binance", "a", OrderStatus.OPEN, filled=D(1))
    async with db.session() as session:
        repo = OrderRepository(session)
        open_g1 = await repo.open_orders(strategy="g1")
        a = await repo.get("binance", "a")
    assert (applied, unknown, stale) == (True, False, False)
    assert [o.client_order_id for o in open_g1] == ["b", "d", "m"]  # by price, market last
    assert a is not None and a.exchange_order_id == "X1" and a.status is OrderStatus.CLOSED


async def test_fills_are_stored_once_per_trade_id(db: Database) -> None:
    async with db.session() as session:
        repo = FillRepository(session)
        first = await repo.add(fill("t1"))
        again = await repo.add(fill("t1"))
        await repo.add_many([fill("t1"), fill("t2"), fill("t3", cid="other")])
    async with db.session() as session:
        of_c1 = await FillRepository(session).for_order("binance", "c1")
    assert (first, again) == (True, False)
    assert [f.trade_id for f in of_c1] == ["t1", "t2"]
    assert of_c1[0].fee == D("0.0005") and of_c1[0].price == D("100.5")


async def test_order_event_log_reads_back_in_order_and_skips_redelivery(db: Database) -> None:
    kinds = [OrderEventKind.REQUESTED, OrderEventKind.ACKNOWLEDGED, OrderEventKind.FILLED]
    records = [
        OrderEventRecord(
            exchange="binance",
            strategy="g1",
            client_order_id="c1",
            kind=kind,
            timestamp=1000 - i,  # arrival order, not timestamp order, is the log's order
            payload={"seq": i, "price": D("100.25")},
            event_key=f"binance:g1:{i}",
        )
        for i, kind in enumerate(kinds)
    ]
    async with db.session() as session:
        log = OrderEventLog(session)
        await log.append_many(records)
        redelivered = await log.append(records[1])
    async with db.session() as session:
        events = await OrderEventLog(session).read(strategy="g1")
        after_first = await OrderEventLog(session).read(after_id=events[0].id)
    assert redelivered is False
    assert [e.kind for e in events] == kinds
    assert decode_payload(events[2]) == {"seq": 2, "price": "100.25"}
    assert [e.kind for e in after_first] == kinds[1:]


async def test_trades_open_close_and_history(db: Database) -> None:
    async with db.session() as session:
        repo = TradeRepository(session)
        t = await repo.create(
            exchange="binance",
            strategy="g1",
            symbol="BTC/USDT",
            side=Side.BUY,
            amount=D("0.5"),
            open_price=D("100"),
            opened_at=1000,
            fee=D("0.05"),
        )
        await repo.create(
            exchange="binance",
            strategy="g2",
            symbol="ETH/USDT",
            side=Side.SELL,
            amount=D("1"),
            open_price=D("20"),
            opened_at=2000,
        )
    async with db.session() as session:
        repo = TradeRepository(session)
        closed = await repo.close(t.id, price=D("110"), closed_at=5000, fee=D("0.055"))
    async with db.session() as session:
        repo = TradeRepository(session)
        open_trades = await repo.open_trades()
        g1_closed = await repo.history(strategy="g1", is_open=False)
        with pytest.raises(TradeAlreadyClosed):
            await repo.close(t.id, price=D("1"), closed_at=6000)
        with pytest.raises(TradeNotFound):
            await repo.close(10_000, price=D("1"), closed_at=6000)
    assert closed.profit == D("4.895")  # (110 - 100) * 0.5 - 0.105
    assert [x.strategy for x in open_trades] == ["g2"]
    assert [(x.id, x.profit, x.fee) for x in g1_closed] == [(t.id, D("4.895"), D("0.105"))]


async def test_trade_statistics(db: Database) -> None:
    # (side, open, close, fee) -> profits: +9.9, -5.1, +0.9; and one still open
    legs = [
        (Side.BUY, "100", "110", "0.1"),
        (Side.BUY, "100", "95", "0.1"),
        (Side.SELL, "100", "99", "0.1"),
    ]
    async with db.session() as session:
        repo = TradeRepository(session)
        for i, (side, opened, close, fee) in enumerate(legs):
            t = await repo.create(
                exchange="binance",
                strategy="g1",
                symbol="BTC/USDT",
                side=side,
                amount=D(1),
                open_price=D(opened),
                opened_at=i,
            )
            await repo.close(t.id, price=D(close), closed_at=100 + i, fee=D(fee))
        await repo.create(
            exchange="binance",
            strategy="g1",
            symbol="BTC/USDT",
            side=Side.BUY,
            amount=D(1),
            open_price=D(1),
            opened_at=9,
            fee=D("0.01"),
        )
    async with db.session() as session:
        stats = await TradeRepository(session).statistics(strategy="g1")
        none = await TradeRepository(session).statistics(strategy="nobody")
    assert (stats.trades, stats.open_trades, stats.wins, stats.losses) == (3, 1, 2, 1)
    assert stats.total_profit == D("5.7")
    assert stats.average_profit == D("1.9")
    assert stats.win_rate == D(2) / D(3)
    assert (stats.max_win, stats.max_loss) == (D("9.9"), D("-5.1"))
    assert stats.fees == D("0.31")
    assert (none.trades, none.total_profit, none.max_win, none.max_loss) == (0, D(0), None, None)


async def test_the_same_trade_id_on_two_symbols_is_two_fills(db: Database) -> None:
    eth = msgspec.structs.replace(fill("t1"), symbol="ETH/USDT")
    async with db.session() as session:
        repo = FillRepository(session)
        assert await repo.add(fill("t1")) is True
        assert await repo.add(eth) is True
        assert await repo.add(eth) is False
    async with db.session() as session:
        stored = await FillRepository(session).get("binance", "ETH/USDT", "t1")
    assert stored is not None and stored.symbol == "ETH/USDT"
