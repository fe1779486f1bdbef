"""Placing on a real paper account: a placement reaches the account once however often
it is sent (the client id is looked up first, also after an answer was lost), a grid
spends only its own budget and only its own client ids, a crossing order's fills come
with its acknowledgement, and a paused account sends nothing."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import EPOCH, SYMBOL, PaperAccount, cid, updates

from gridsup.actors.execution.placing import Placing
from gridsup.actors.execution.venue import PaperVenue
from gridsup.exchange.errors import AmbiguousOrder
from gridsup.exchange.types import Order
from gridsup.messages.common import OrderIntent, OrderStatus
from gridsup.messages.orders import OrderAck, OrderRejected
from gridsup.messages.store import RecordFill, RecordOrderEvent

D = Decimal


class AnswerLost(PaperVenue):
    """The paper account takes the order, but the answer to the first placement is lost."""

    lost = 1

    async def place(self, intent: OrderIntent) -> Order:
        order = await super().place(intent)
        if self.lost:
            self.lost -= 1
            raise AmbiguousOrder("timed out", intent.client_order_id)
        return order


class Taker(PaperVenue):
    """The market trades through every order the moment it is placed (a taker fill)."""

    async def place(self, intent: OrderIntent) -> Order:
        order = await super().place(intent)
        assert intent.price is not None
        self.paper.on_price(intent.symbol, intent.price, EPOCH + 1)
        return self.paper.fetch_order(order.id)


def placing(paper: PaperAccount) -> Placing:
    return Placing(paper.bench(), paper.budgets)


async def test_a_placement_reaches_the_account_and_is_acked_once_durable() -> None:
    paper = PaperAccount()
    part = placing(paper)

    outcome = await part.place(paper.place("a", 1, "50000"))

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
    assert part.placed == 1


async def test_a_placement_sent_again_is_answered_without_a_second_order() -> None:
    paper = PaperAccount()
    part = placing(paper)
    first = await part.place(paper.place("a", 1, "50000"))

    again = await part.place(paper.place("a", 1, "50000"))

    assert len(paper.account.open_orders(SYMBOL)) == 1
    assert isinstance(first.reply, OrderAck) and isinstance(again.reply, OrderAck)
    assert again.reply.exchange_order_id == first.reply.exchange_order_id
    assert (again.requests, part.placed) == ([], 1)


async def test_a_grid_spends_only_its_own_budget() -> None:
    paper = PaperAccount()
    part = placing(paper)
    assert isinstance((await part.place(paper.place("a", 1, "50000", "0.012"))).reply, OrderAck)

    over = await part.place(paper.place("a", 2, "45000", "0.01"))  # 600 + 450 > 1000
    other = await part.place(paper.place("b", 2, "45000", "0.01"))  # b's own 1000
    never = await part.place(paper.place("b", 3, "45000", "1"))  # more than b ever has

    # For now only: a's room comes back as its buy fills or is cancelled (the grid waits).
    assert isinstance(over.reply, OrderRejected) and over.reply.retryable
    assert over.reply.reason.startswith("waiting: budget exceeded for grid a")
    assert not over.durable
    assert isinstance(other.reply, OrderAck)
    assert isinstance(never.reply, OrderRejected) and not never.reply.retryable
    assert sorted(o.client_order_id or "" for o in paper.account.open_orders()) == sorted(
        [cid("a", 1), cid("b", 2)]
    )
    assert part.waiting == 1


async def test_an_order_of_another_grid_or_symbol_is_refused_before_the_exchange() -> None:
    paper = PaperAccount()
    part = placing(paper)
    as_b = paper.place("a", 1, "50000")
    as_b = type(as_b)(request_id="rx", strategy="b", intent=as_b.intent)  # b sends a's id

    refused = await part.place(as_b)
    unknown = await part.place(paper.place("zz", 1, "50000"))

    assert isinstance(refused.reply, OrderRejected)
    assert "does not belong to grid 'b'" in refused.reply.reason
    assert isinstance(unknown.reply, OrderRejected)
    assert unknown.reply.reason == "unknown strategy 'zz'"
    assert paper.account.open_orders() == []


async def test_a_crossing_order_is_acked_with_its_fill() -> None:
    paper = PaperAccount()
    paper.venue = Taker(paper.account, paper.venue.limiter)

    outcome = await placing(paper).place(paper.place("a", 1, "50000"))

    assert isinstance(outcome.reply, OrderAck) and outcome.reply.status is OrderStatus.CLOSED
    [fill] = [r for r in outcome.requests if isinstance(r, RecordFill)]
    assert (fill.grid_id, fill.fill.amount, fill.fill.order_closed) == ("a", D("0.01"), True)
    assert [(u.seq, u.status) for u in updates(outcome.actions)] == [(1, OrderStatus.CLOSED)]
    assert paper.account.open_orders() == []


async def test_a_lost_answer_is_doubtful_and_the_resend_finds_the_order() -> None:
    paper = PaperAccount()
    paper.venue = AnswerLost(paper.account, paper.venue.limiter)
    part = placing(paper)

    lost = await part.place(paper.place("a", 1, "50000"))
    doubtful = (set(part.doubtful), paper.book.get(cid("a", 1)))
    again = await part.place(paper.place("a", 1, "50000"))

    assert isinstance(lost.reply, OrderRejected) and lost.reply.retryable
    assert lost.reply.reason.startswith("waiting: ") and lost.requests == []
    assert doubtful == ({cid("a", 1)}, None)  # untracked: the stop settles it if no resend
    assert isinstance(again.reply, OrderAck) and again.reply.status is OrderStatus.OPEN
    assert len(paper.account.open_orders()) == 1  # found by its client id, not placed twice
    assert part.doubtful == {} and part.placed == 1


async def test_a_paused_account_sends_nothing() -> None:
    paper = PaperAccount()
    paper.admission.pause("-2015 Invalid API-key")

    outcome = await placing(paper).place(paper.place("a", 1, "50000"))

    assert isinstance(outcome.reply, OrderRejected) and outcome.reply.retryable
    assert outcome.reply.reason.startswith("account paused: -2015 Invalid API-key")
    assert paper.account.open_orders() == [] and paper.book.get(cid("a", 1)) is None
