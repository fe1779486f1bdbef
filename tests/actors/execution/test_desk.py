"""The Desk on a real paper account: placements reach the account once however often
they are sent, a grid spends only its own budget and only its own client ids, fills
become store records and numbered updates, cancels and queries answer with what the
account holds, and a cluster member counts as its own only the grids it serves."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import SYMBOL, PaperDesk, cid

from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.orders import (
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderSnapshot,
    OrderUpdate,
    QueryOrders,
)
from gridsup.messages.store import RecordFill, RecordOrderEvent

D = Decimal


def place_elsewhere(paper: PaperDesk, client_order_id: str) -> None:
    """An order on the account that this Desk did not place."""
    paper.account.create_order(
        SYMBOL, Side.BUY, OrderType.LIMIT, D("0.01"), D(40000), client_order_id
    )


async def test_a_placement_reaches_the_account_and_is_acked_once_durable() -> None:
    paper = PaperDesk()

    outcome = await paper.desk.place(paper.place("a", 1, "50000"))

    [order] = paper.account.open_orders(SYMBOL)
    assert (order.client_order_id, order.price, order.amount) == (cid("a", 1), D(50000), D("0.01"))
    assert outcome.reply == OrderAck(
        request_id="r1",
        client_order_id=cid("a", 1),
        status=OrderStatus.OPEN,
        exchange_order_id=order.id,
    )
    assert outcome.durable and outcome.paper_changed
    assert [(type(r), r.reason) for r in outcome.requests] == [(RecordOrderEvent, "acknowledged")]
    assert paper.desk.placed == 1


async def test_a_placement_sent_again_is_answered_without_a_second_order() -> None:
    paper = PaperDesk()
    first = await paper.desk.place(paper.place("a", 1, "50000"))

    again = await paper.desk.place(paper.place("a", 1, "50000"))

    assert len(paper.account.open_orders(SYMBOL)) == 1
    assert isinstance(first.reply, OrderAck) and isinstance(again.reply, OrderAck)
    assert again.reply.exchange_order_id == first.reply.exchange_order_id
    assert (again.requests, paper.desk.placed) == ([], 1)


async def test_a_grid_spends_only_its_own_budget() -> None:
    paper = PaperDesk()
    assert isinstance(
        (await paper.desk.place(paper.place("a", 1, "50000", "0.012"))).reply, OrderAck
    )

    over = await paper.desk.place(paper.place("a", 2, "45000", "0.01"))  # 600 + 450 > 1000
    other = await paper.desk.place(paper.place("b", 2, "45000", "0.01"))  # b's own 1000

    # For now only: a's room comes back as its buy fills or is cancelled (the grid waits).
    assert isinstance(over.reply, OrderRejected) and over.reply.retryable
    assert over.reply.reason.startswith("waiting: budget exceeded for grid a")
    assert not over.durable
    assert isinstance(other.reply, OrderAck)
    assert sorted(o.client_order_id or "" for o in paper.account.open_orders()) == sorted(
        [cid("a", 1), cid("b", 2)]
    )


async def test_an_order_of_another_grid_or_symbol_is_refused_before_the_exchange() -> None:
    paper = PaperDesk()
    as_b = paper.place("a", 1, "50000")
    as_b = type(as_b)(request_id="rx", strategy="b", intent=as_b.intent)  # b sends a's id

    refused = await paper.desk.place(as_b)
    unknown = await paper.desk.place(paper.place("zz", 1, "50000"))

    assert isinstance(refused.reply, OrderRejected)
    assert "does not belong to grid 'b'" in refused.reply.reason
    assert isinstance(unknown.reply, OrderRejected)
    assert unknown.reply.reason == "unknown strategy 'zz'"
    assert paper.account.open_orders() == []


async def test_a_fill_becomes_a_record_an_event_and_the_grids_next_update() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    await paper.desk.place(paper.place("b", 1, "51000"))

    requests, actions = paper.desk.on_tick(paper.tick("49000"))

    fills = [r for r in requests if isinstance(r, RecordFill)]
    assert sorted((f.grid_id, f.fill.price, f.fill.order_closed) for f in fills) == [
        ("a", D(50000), True),
        ("b", D(51000), True),
    ]
    updates = {u.strategy: u for _, _, u in actions if isinstance(u, OrderUpdate)}
    assert {g: (u.seq, u.epoch, u.status) for g, u in updates.items()} == {
        "a": (1, paper.desk.epoch, OrderStatus.CLOSED),
        "b": (1, paper.desk.epoch, OrderStatus.CLOSED),
    }
    assert updates["a"].fill is not None and updates["a"].fill.amount == D("0.01")
    assert paper.book.get(cid("a", 1)).status is OrderStatus.CLOSED  # type: ignore[union-attr]
    assert paper.budgets.positions["a"].base > 0
    assert paper.desk.fills == 2


async def test_a_cancel_removes_the_order_and_publishes_its_end() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))

    outcome = await paper.desk.cancel(
        CancelOrder(request_id="c1", strategy="a", client_order_id=cid("a", 1), symbol=SYMBOL)
    )

    assert paper.account.open_orders() == []
    assert isinstance(outcome.reply, OrderAck)
    assert outcome.reply.status is OrderStatus.CANCELED
    [(_, _, update)] = outcome.actions
    assert (update.seq, update.status) == (1, OrderStatus.CANCELED)
    assert paper.account.balance().free["USDT"] == D(10000)  # the reserve is released


async def test_a_query_lists_the_grids_open_orders_and_the_fate_of_those_it_names() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    await paper.desk.place(paper.place("a", 2, "45000"))
    await paper.desk.place(paper.place("b", 1, "50000"))
    await paper.desk.cancel(
        CancelOrder(request_id="c1", strategy="a", client_order_id=cid("a", 2), symbol=SYMBOL)
    )

    outcome = await paper.desk.query(
        QueryOrders(request_id="q", strategy="a", client_order_ids=(cid("a", 2),))
    )

    assert isinstance(outcome.reply, OrderSnapshot)
    states = {o.intent.client_order_id: o.status for o in outcome.reply.orders}
    assert states == {cid("a", 1): OrderStatus.OPEN, cid("a", 2): OrderStatus.CANCELED}
    assert outcome.reply.seq == 1  # the cancel's update came first


async def test_orders_placed_elsewhere_are_adopted_and_foreign_ones_counted() -> None:
    paper = PaperDesk()
    place_elsewhere(paper, cid("a", 3))  # by the grid's previous execution actor
    place_elsewhere(paper, "someone-else")

    requests, _ = await paper.desk.adopt_open_orders()

    assert paper.book.get(cid("a", 3)) is not None
    assert paper.desk.foreign == 1
    assert [r.client_order_id for r in requests if isinstance(r, RecordOrderEvent)] == [cid("a", 3)]


async def test_a_cluster_member_owns_only_the_grids_it_serves() -> None:
    paper = PaperDesk(member="m1")
    place_elsewhere(paper, cid("a", 3))
    assert paper.desk.grid_of(cid("a", 3)) is None  # another member's, until asked

    await paper.desk.query(QueryOrders(request_id="q", strategy="a"))
    await paper.desk.adopt_open_orders()

    assert paper.desk.grid_of(cid("a", 3)) == "a"
    assert paper.book.get(cid("a", 3)) is not None
