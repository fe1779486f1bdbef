"""The desk's replies: an acknowledgement carries the order as tracked; a refusal is
sent at once (nothing to store) and says whether the grid may ask again."""

from __future__ import annotations

from desk_parts import cid, place_order

from gridsup.actors.execution.replies import Outcome, ack, reject
from gridsup.actors.execution.tracked_orders import TrackedOrder
from gridsup.messages.common import OrderStatus
from gridsup.messages.orders import OrderAck, OrderRejected


def test_an_ack_carries_the_orders_status_and_exchange_id() -> None:
    tracked = TrackedOrder("a", place_order("a", 1, 50000).intent)
    tracked.exchange_order_id, tracked.status = "42", OrderStatus.CLOSED

    assert ack("r1", tracked) == OrderAck(
        request_id="r1",
        client_order_id=cid("a", 1),
        status=OrderStatus.CLOSED,
        exchange_order_id="42",
    )


def test_a_refusal_is_sent_at_once_and_says_whether_to_ask_again() -> None:
    waiting = reject("r1", "c", "waiting: budget", retryable=True)
    final = reject("r2", "c", "unknown order")

    assert waiting == Outcome(
        OrderRejected(
            request_id="r1", client_order_id="c", reason="waiting: budget", retryable=True
        ),
        durable=False,
    )
    assert isinstance(final.reply, OrderRejected) and not final.reply.retryable
    assert (final.requests, final.actions, final.durable) == ([], [], False)
