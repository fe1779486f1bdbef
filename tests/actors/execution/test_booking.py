"""Booking: what the exchange says about an order becomes, exactly once per trade, a
fill record, an order event and the grid's next numbered update; a final state without
a fill is an update of its own; positions move with the fills; a third-asset fee is
valued in quote when its price is known. A restored paper account's trades are
recorded again from the account itself."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import EPOCH, SYMBOL, PaperDesk, cid

from gridsup.actors.execution.booking import Booking
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.tracked_orders import TrackedOrder, TrackedOrders
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.orders import OrderUpdate
from gridsup.messages.store import RecordFill, RecordOrderEvent, StoreRequest

D = Decimal


def booking() -> Booking:
    run = PaperDesk().run
    return Booking(run, TrackedOrders(), Budgets({"a": D(1000), "b": D(1000)}), "paper", EPOCH)


def tracked(grid: str, level: int, amount: str = "0.02") -> TrackedOrder:
    intent = OrderIntent(
        client_order_id=cid(grid, level),
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=D(amount),
        price=D(50000),
    )
    return TrackedOrder(grid, intent)


def order(of: TrackedOrder, status: OrderStatus = OrderStatus.OPEN, filled: str = "0") -> Order:
    return Order(
        id=f"x-{of.cid}",
        client_order_id=of.cid,
        symbol=SYMBOL,
        side=of.intent.side,
        type=of.intent.type,
        status=status,
        price=of.intent.price,
        amount=of.intent.amount,
        filled=D(filled),
        timestamp=EPOCH,
    )


def trade(of: TrackedOrder, n: int, amount: str, fee: str = "0.5", asset: str = "USDT") -> Trade:
    return Trade(
        id=f"t{n}",
        order_id=f"x-{of.cid}",
        client_order_id=of.cid,
        symbol=SYMBOL,
        side=of.intent.side,
        price=D(50000),
        amount=D(amount),
        fee=D(fee),
        fee_currency=asset,
        timestamp=EPOCH + n,
    )


def fills(requests: list[StoreRequest]) -> list[RecordFill]:
    return [r for r in requests if isinstance(r, RecordFill)]


def updates(actions: list[tuple[str, str, object]]) -> list[OrderUpdate]:
    return [a[2] for a in actions if isinstance(a[2], OrderUpdate)]


def test_each_trade_is_booked_once_however_often_it_is_seen() -> None:
    book = booking()
    buy = book.book.add(tracked("a", 1))
    first, second = trade(buy, 1, "0.01"), trade(buy, 2, "0.01")

    requests, actions = book.absorb(buy, order(buy, filled="0.01"), [first])
    again, more = book.absorb(buy, order(buy, OrderStatus.CLOSED, "0.02"), [first, second])

    assert [f.fill.trade_id for f in fills(requests + again)] == ["t1", "t2"]
    assert [(u.seq, u.status, u.filled) for u in updates(actions + more)] == [
        (1, OrderStatus.OPEN, D("0.01")),
        (2, OrderStatus.CLOSED, D("0.02")),
    ]
    assert [f.fill.order_closed for f in fills(requests + again)] == [False, True]
    events = [r.event_id for r in requests + again if isinstance(r, RecordOrderEvent)]
    assert events == [f"paper:{buy.cid}:fill:t1", f"paper:{buy.cid}:fill:t2"]
    assert book.fills == 2 and book.ledger_changed
    assert book.budgets.positions["a"].base == D("0.02")


def test_each_grid_has_its_own_sequence() -> None:
    book = booking()
    a1, a2 = book.book.add(tracked("a", 1)), book.book.add(tracked("a", 2))
    b1 = book.book.add(tracked("b", 1))

    seen = []
    for one, n in ((a1, 1), (b1, 2), (a2, 3)):
        _, actions = book.absorb(
            one, order(one, OrderStatus.CLOSED, "0.02"), [trade(one, n, "0.02")]
        )
        seen += [(u.strategy, u.seq, u.epoch) for u in updates(actions)]

    assert seen == [("a", 1, EPOCH), ("b", 1, EPOCH), ("a", 2, EPOCH)]


def test_a_final_state_without_a_fill_is_an_update_and_an_event() -> None:
    book = booking()
    buy = book.book.add(tracked("a", 1))

    requests, actions = book.absorb(buy, order(buy, OrderStatus.CANCELED), [])

    assert fills(requests) == []
    assert [(r.status, r.reason) for r in requests if isinstance(r, RecordOrderEvent)] == [
        (OrderStatus.CANCELED, "canceled")
    ]
    [update] = updates(actions)
    assert (update.status, update.fill, buy.status) == (
        OrderStatus.CANCELED,
        None,
        OrderStatus.CANCELED,
    )


def test_a_closed_order_waits_for_all_its_trades_before_it_is_final() -> None:
    book = booking()
    buy = book.book.add(tracked("a", 1))

    requests, _ = book.absorb(buy, order(buy, OrderStatus.CLOSED, "0.02"), [trade(buy, 1, "0.01")])

    assert buy.status is OrderStatus.OPEN  # the second trade is still to be seen
    assert [f.fill.order_closed for f in fills(requests)] == [False]


def test_a_third_asset_fee_is_valued_in_quote_when_its_price_is_known() -> None:
    book = booking()
    buy = book.book.add(tracked("a", 1))
    book.fee_prices.note("BNB/USDT", D(600))
    other = book.book.add(tracked("a", 2))

    valued, _ = book.absorb(buy, order(buy), [trade(buy, 1, "0.01", "0.001", "BNB")])
    unvalued, _ = book.absorb(other, order(other), [trade(other, 2, "0.01", "0.001", "XYZ")])

    assert [f.fill.fee_quote for f in fills(valued + unvalued)] == [D("0.6"), None]


def test_a_foreign_client_id_belongs_to_no_grid() -> None:
    book = booking()

    assert (book.grid_of(cid("a", 1)), book.grid_of("web-123"), book.grid_of(None)) == (
        "a",
        None,
        None,
    )


async def test_a_restored_paper_accounts_trades_are_recorded_again() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    await paper.desk.place(paper.place("b", 1, "51000"))
    paper.desk.on_tick(paper.tick("49000"))
    fresh = Booking(paper.run, TrackedOrders(), paper.budgets, "paper", EPOCH + 1)

    requests = fresh.rerecord_trades(paper.account)

    again = fills(requests)
    assert sorted((f.grid_id, f.fill.client_order_id, f.fill.order_closed) for f in again) == [
        ("a", cid("a", 1), True),
        ("b", cid("b", 1), True),
    ]
    assert {t.id for t in paper.account.trades()} == {f.fill.trade_id for f in again}
    assert fresh.seq == {}  # nothing published: the strategies learn by their own query
