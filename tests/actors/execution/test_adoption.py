"""Adoption on a real paper account, polled as the live account is: at start every open
order of our grids is tracked and foreign ones are counted; a poll books what changed
(but leaves an order whose cancel is in flight to that cancel), adopts our orphans with
their earlier trades counted as booked, and counts foreign orders per symbol polled."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import SYMBOL, PaperDesk, cid, trade_of, updates

from gridsup.actors.execution.adoption import Adoption
from gridsup.actors.execution.poller import PollResult, poll
from gridsup.messages.common import OrderStatus
from gridsup.messages.store import RecordFill, RecordOrderEvent

D = Decimal


def adoption(paper: PaperDesk) -> Adoption:
    return Adoption(paper.bench())


async def test_orders_placed_elsewhere_are_adopted_and_foreign_ones_counted() -> None:
    paper = PaperDesk()
    paper.place_elsewhere(cid("a", 3))  # by the grid's previous execution actor
    paper.place_elsewhere("someone-else")
    part = adoption(paper)

    requests, _ = await part.adopt_open_orders()

    assert paper.book.get(cid("a", 3)) is not None
    assert part.foreign == 1
    assert [r.client_order_id for r in requests if isinstance(r, RecordOrderEvent)] == [cid("a", 3)]


async def test_a_poll_books_the_fills_it_found() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    paper.account.on_price(SYMBOL, D(49000), 2)  # filled, and nobody booked it yet

    requests, actions = await adoption(paper).on_poll(
        await poll(paper.venue, paper.book, paper.admission.grid_of, SYMBOL)
    )

    [fill] = [r for r in requests if isinstance(r, RecordFill)]
    assert (fill.grid_id, fill.fill.price) == ("a", D(50000))
    assert [(u.seq, u.status) for u in updates(actions)] == [(1, OrderStatus.CLOSED)]


async def test_a_poll_leaves_an_order_whose_cancel_is_in_flight_to_that_cancel() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    paper.account.on_price(SYMBOL, D(49000), 2)
    found = await poll(paper.venue, paper.book, paper.admission.grid_of, SYMBOL)

    with paper.inflight.holding(cid("a", 1)):
        records = await adoption(paper).on_poll(found)

    assert records == ([], [])
    assert paper.book.get(cid("a", 1)).status is OrderStatus.OPEN  # type: ignore[union-attr]


async def test_an_orphan_is_adopted_with_its_earlier_trades_counted_as_booked() -> None:
    paper = PaperDesk()
    orphan = paper.place_elsewhere(cid("a", 3))
    part = adoption(paper)

    requests, actions = part.adopt([(orphan, [trade_of(orphan, "t9")])])

    tracked = paper.book.get(cid("a", 3))
    assert tracked is not None and tracked.trade_ids == {"t9"} and tracked.filled == D("0.01")
    assert [type(r) for r in requests] == [RecordOrderEvent]  # no fill booked twice
    assert updates(actions) == []
    assert part.adopt([(orphan, [])]) == ([], [])  # tracked now: adopted once


async def test_foreign_orders_are_counted_per_symbol_polled() -> None:
    paper = PaperDesk()
    part = adoption(paper)

    await part.on_poll(PollResult(foreign={"1", "2"}, symbol=SYMBOL))
    await part.on_poll(PollResult(foreign={"3"}, symbol="ETH/USDT"))
    per_symbol = part.foreign
    await part.on_poll(PollResult(foreign={"1"}))  # every symbol at once

    assert (per_symbol, part.foreign) == (3, 1)
