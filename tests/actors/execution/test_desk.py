"""The Desk as the execution actor sees it: one face over its parts (each tested in its
own file: placing, cancelling, queries, adoption, paper_fills, admission, inflight), on
a real paper account. Its figures are its parts' figures, a tick reaches the paper
account only through a paper venue, and a cluster member counts as its own only the
grids it serves."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import EPOCH, PaperDesk, cancel_order, cid

from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.venue import LiveVenue
from gridsup.messages.common import OrderStatus
from gridsup.messages.orders import OrderAck, QueryOrders

D = Decimal


async def test_the_desks_figures_are_what_its_parts_did() -> None:
    paper = PaperDesk()
    paper.place_elsewhere("someone-else")
    await paper.desk.adopt_open_orders()
    await paper.desk.place(paper.place("a", 1, "50000", "0.012"))
    await paper.desk.place(paper.place("a", 2, "45000"))  # over a's budget: waits
    await paper.desk.place(paper.place("b", 1, "50000"))

    paper.desk.on_tick(paper.tick("49000"))
    cancelled = await paper.desk.cancel(cancel_order("b", 1))
    paper.desk.pause("-2015 Invalid API-key")

    figures = (paper.desk.placed, paper.desk.waiting, paper.desk.rejected, paper.desk.fills)
    assert figures == (2, 1, 0, 2)
    assert (paper.desk.foreign, paper.desk.paused) == (1, "-2015 Invalid API-key")
    assert isinstance(cancelled.reply, OrderAck)
    assert cancelled.reply.status is OrderStatus.CLOSED  # filled before the cancel came
    assert not paper.desk.in_flight(cid("a", 1)) and paper.desk.doubtful == {}


async def test_only_a_paper_venue_gives_the_desk_a_paper_account() -> None:
    paper = PaperDesk()
    live = Desk(
        paper.run,
        paper.book,
        paper.budgets,
        LiveVenue(object(), TokenBucket(1)),
        EPOCH,  # type: ignore[arg-type]
    )
    await paper.desk.place(paper.place("a", 1, "50000"))

    assert live.on_tick(paper.tick("49000")) == ([], [])
    assert live.rerecord_paper_trades() == []
    assert len(paper.account.open_orders()) == 1  # the live desk never touched it
    requests, _ = paper.desk.on_tick(paper.tick("49000"))
    assert requests and paper.account.open_orders() == []


async def test_a_cluster_member_owns_only_the_grids_it_serves() -> None:
    paper = PaperDesk(member="m1")
    paper.place_elsewhere(cid("a", 3))
    assert paper.desk.grid_of(cid("a", 3)) is None  # another member's, until asked

    await paper.desk.query(QueryOrders(request_id="q", strategy="a"))
    await paper.desk.adopt_open_orders()

    assert paper.desk.grid_of(cid("a", 3)) == "a"
    assert paper.book.get(cid("a", 3)) is not None
    assert (paper.desk.cluster, paper.desk.served) == (True, {"a"})
