"""What the execution desk answers a grid's request with: an :class:`Outcome` (the
reply, and what must be durable before it leaves) built from an acknowledgement or a
refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.tracked_orders import TrackedOrder
from gridsup.messages.orders import OrderAck, OrderRejected, OrderReply
from gridsup.messages.store import StoreRequest


@dataclass(slots=True)
class Outcome:
    """The answer to one request, and what must be durable before it leaves."""

    reply: OrderReply
    requests: list[StoreRequest] = field(default_factory=list)
    actions: list[OutboxEntry] = field(default_factory=list)
    durable: bool = True  # False: a refusal that changed nothing, sent at once
    paper_changed: bool = False


def ack(request_id: str, tracked: TrackedOrder) -> OrderAck:
    """The order as the desk tracks it: its status and the exchange's id for it."""
    return OrderAck(
        request_id=request_id,
        client_order_id=tracked.cid,
        status=tracked.status,
        exchange_order_id=tracked.exchange_order_id,
    )


def reject(request_id: str, cid: str, reason: str, retryable: bool = False) -> Outcome:
    """A refusal that changed nothing: nothing to store, so it is sent at once."""
    reply = OrderRejected(
        request_id=request_id, client_order_id=cid, reason=reason, retryable=retryable
    )
    return Outcome(reply, durable=False)
