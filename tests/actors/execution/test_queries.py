"""Queries on a real paper account: a grid's snapshot lists its open orders and the fate
of the ids it names, at its current update seq; an order of the grid that the desk does
not track is adopted on the way; a query of an unknown grid or of a paused account is
refused."""

from __future__ import annotations

from desk_parts import PaperDesk, cancel_order, cid

from gridsup.actors.execution.queries import Queries
from gridsup.messages.common import OrderStatus
from gridsup.messages.orders import OrderRejected, OrderSnapshot, QueryOrders


def queries(paper: PaperDesk) -> Queries:
    return Queries(paper.bench(), paper.desk.epoch)


async def test_a_query_lists_the_grids_open_orders_and_the_fate_of_those_it_names() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    await paper.desk.place(paper.place("a", 2, "45000"))
    await paper.desk.place(paper.place("b", 1, "50000"))
    await paper.desk.cancel(cancel_order("a", 2))

    outcome = await queries(paper).query(
        QueryOrders(request_id="q", strategy="a", client_order_ids=(cid("a", 2),))
    )

    assert isinstance(outcome.reply, OrderSnapshot)
    states = {o.intent.client_order_id: o.status for o in outcome.reply.orders}
    assert states == {cid("a", 1): OrderStatus.OPEN, cid("a", 2): OrderStatus.CANCELED}
    assert outcome.reply.seq == 1  # the cancel's update came first
    assert (outcome.reply.epoch, outcome.requests) == (paper.desk.epoch, [])


async def test_an_untracked_order_the_grid_names_is_adopted_into_the_snapshot() -> None:
    paper = PaperDesk()
    paper.place_elsewhere(cid("a", 3))  # placed before a crash, its answer never booked

    outcome = await queries(paper).query(
        QueryOrders(request_id="q", strategy="a", client_order_ids=(cid("a", 3), cid("b", 1)))
    )

    assert isinstance(outcome.reply, OrderSnapshot)
    assert [o.intent.client_order_id for o in outcome.reply.orders] == [cid("a", 3)]
    assert [r.client_order_id for r in outcome.requests] == [cid("a", 3)]
    assert outcome.paper_changed and paper.book.get(cid("a", 3)) is not None


async def test_a_query_of_an_unknown_grid_or_a_paused_account_is_refused() -> None:
    paper = PaperDesk()
    unknown = await queries(paper).query(QueryOrders(request_id="q1", strategy="zz"))
    paper.admission.pause("-2015 Invalid API-key")

    paused = await queries(paper).query(QueryOrders(request_id="q2", strategy="a"))

    assert isinstance(unknown.reply, OrderRejected) and not unknown.reply.retryable
    assert unknown.reply.reason == "unknown strategy 'zz'"
    assert isinstance(paused.reply, OrderRejected) and paused.reply.retryable
    assert paper.admission.served == {"a"}  # asked about, so served, even while paused
