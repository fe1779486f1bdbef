"""Cancelling on a real paper account: a cancel removes the order and publishes its end;
an order of the grid that the desk does not track is found by its client id, tracked and
cancelled; a cancel whose answer is lost is confirmed by looking the order up, or else
answered as retryable with the order still tracked as open."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import PaperAccount, cancel_order, cid, updates

from gridsup.actors.execution.cancelling import Cancelling
from gridsup.actors.execution.placing import Placing
from gridsup.actors.execution.venue import PaperVenue
from gridsup.exchange.errors import ExchangeUnavailable
from gridsup.exchange.types import Order
from gridsup.messages.common import OrderStatus
from gridsup.messages.orders import OrderAck, OrderRejected
from gridsup.messages.store import RecordOrderEvent

D = Decimal


class CancelAnswerLost(PaperVenue):
    """Every cancel's answer is lost; the account cancels (``reaches``) or not."""

    reaches = True

    async def cancel(self, order_id: str, symbol: str) -> Order:
        if self.reaches:
            await super().cancel(order_id, symbol)
        raise ExchangeUnavailable("502 Bad Gateway")


def cancelling(paper: PaperAccount) -> Cancelling:
    return Cancelling(paper.bench())


async def placed(paper: PaperAccount, level: int = 1) -> None:
    part = Placing(paper.bench(), paper.budgets)
    assert isinstance((await part.place(paper.place("a", level, "50000"))).reply, OrderAck)


async def test_a_cancel_removes_the_order_and_publishes_its_end() -> None:
    paper = PaperAccount()
    await placed(paper)

    outcome = await cancelling(paper).cancel(cancel_order("a", 1))

    assert paper.account.open_orders() == []
    assert isinstance(outcome.reply, OrderAck)
    assert outcome.reply.status is OrderStatus.CANCELED
    [(_, _, update)] = outcome.actions
    assert (update.seq, update.status) == (1, OrderStatus.CANCELED)
    assert paper.account.balance().free["USDT"] == D(10000)  # the reserve is released


async def test_an_untracked_order_of_the_grid_is_found_tracked_and_cancelled() -> None:
    paper = PaperAccount()
    paper.place_elsewhere(cid("a", 1))  # by the grid's previous execution actor

    outcome = await cancelling(paper).cancel(cancel_order("a", 1))

    assert isinstance(outcome.reply, OrderAck) and outcome.reply.status is OrderStatus.CANCELED
    assert paper.account.open_orders() == []
    events = [(r.client_order_id, r.reason) for r in outcome.requests]
    assert events[0] == (cid("a", 1), "acknowledged")
    assert all(isinstance(r, RecordOrderEvent) for r in outcome.requests)
    assert paper.book.get(cid("a", 1)).status is OrderStatus.CANCELED  # type: ignore[union-attr]


async def test_an_order_nobody_has_is_refused_for_good() -> None:
    paper = PaperAccount()

    outcome = await cancelling(paper).cancel(cancel_order("a", 1))

    assert isinstance(outcome.reply, OrderRejected)
    assert (outcome.reply.reason, outcome.reply.retryable) == ("unknown order", False)


async def test_a_final_order_is_answered_as_it_is_without_a_request() -> None:
    paper = PaperAccount()
    await placed(paper)
    part = cancelling(paper)
    await part.cancel(cancel_order("a", 1))
    paper.venue = CancelAnswerLost(paper.account, paper.venue.limiter)  # would fail if asked

    again = await cancelling(paper).cancel(cancel_order("a", 1, request_id="c2"))

    assert isinstance(again.reply, OrderAck) and again.reply.status is OrderStatus.CANCELED
    assert (again.requests, again.actions) == ([], [])


async def test_a_lost_answer_is_confirmed_by_looking_the_order_up() -> None:
    paper = PaperAccount()
    await placed(paper)
    paper.venue = CancelAnswerLost(paper.account, paper.venue.limiter)

    outcome = await cancelling(paper).cancel(cancel_order("a", 1))

    assert isinstance(outcome.reply, OrderAck) and outcome.reply.status is OrderStatus.CANCELED
    assert [(u.seq, u.status) for u in updates(outcome.actions)] == [(1, OrderStatus.CANCELED)]


async def test_an_unconfirmed_cancel_is_retryable_and_the_order_stays_open() -> None:
    paper = PaperAccount()
    await placed(paper)
    paper.venue = CancelAnswerLost(paper.account, paper.venue.limiter)
    paper.venue.reaches = False

    outcome = await cancelling(paper).cancel(cancel_order("a", 1))

    assert isinstance(outcome.reply, OrderRejected) and outcome.reply.retryable
    assert "502 Bad Gateway" in outcome.reply.reason
    assert len(paper.account.open_orders()) == 1
    assert paper.book.get(cid("a", 1)).status is OrderStatus.OPEN  # type: ignore[union-attr]
