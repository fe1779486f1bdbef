"""Orders channel: strategy actors ask the execution actor for orders and learn their fate.

Two sockets carry it (see docs/runtime.md):

* requests/replies, DEALER (strategy) -> ROUTER (execution): :data:`OrderRequest` in,
  :data:`OrderReply` back, matched by ``request_id``;
* updates, PUB (execution, topic = strategy id) -> SUB (strategy): :data:`OrderFeed`.

Updates follow the ZeroMQ Guide's Clone pattern: every :class:`OrderUpdate` for a strategy
carries the next number of that strategy's sequence; an :class:`OrderSnapshot` (the reply
to :class:`QueryOrders`) carries the sequence number current when it was taken. A
subscriber that sees a gap (``seq != last + 1``) asks for a snapshot and then applies only
updates with ``seq > snapshot.seq``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from gridsup.messages.codec import Codec
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Place ``intent``; idempotent by its client order id (a re-send is looked up first)."""

    request_id: str
    strategy: str
    intent: OrderIntent


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Cancel one of the strategy's orders, named by its client order id."""

    request_id: str
    strategy: str
    client_order_id: str
    symbol: str


class QueryOrders(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for a snapshot of the strategy's open and tracked orders (resync after a gap).

    ``client_order_ids`` are looked up as well (on the exchange if the execution actor
    does not track them), so a restarting strategy learns the final status and fills of
    orders it tracked while it was down."""

    request_id: str
    strategy: str
    symbol: str | None = None
    client_order_ids: tuple[str, ...] = ()


class OrderAck(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The request was accepted: the order exists (or is gone, for a cancel)."""

    request_id: str
    client_order_id: str
    status: OrderStatus
    exchange_order_id: str | None = None


class OrderRejected(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The request was refused. ``retryable`` says a later identical request may succeed
    (rate limit, exchange unavailable); otherwise the strategy must not resend it."""

    request_id: str
    client_order_id: str
    reason: str
    retryable: bool = False


class OrderState(msgspec.Struct, frozen=True, kw_only=True):
    """One order as the execution actor knows it, inside a snapshot."""

    intent: OrderIntent
    status: OrderStatus
    filled: Decimal = Decimal(0)
    exchange_order_id: str | None = None
    fills: tuple[FillReport, ...] = ()  # every fill known for this order


class OrderSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Every order of ``strategy`` at sequence number ``seq`` (Clone pattern snapshot)."""

    request_id: str
    strategy: str
    seq: int
    orders: tuple[OrderState, ...] = ()
    epoch: int = 0  # the execution actor's start time (ms); see OrderUpdate.epoch


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A change to one order: a new status and/or a fill. ``seq`` is the strategy's
    update sequence number, 1, 2, 3 ... without gaps."""

    strategy: str
    seq: int
    client_order_id: str
    status: OrderStatus
    filled: Decimal
    fill: FillReport | None = None
    reason: str | None = None
    # The execution actor's start time (ms): sequences restart with each epoch, so a
    # subscriber that sees a new epoch resyncs with QueryOrders like after a gap.
    epoch: int = 0


OrderRequest = PlaceOrder | CancelOrder | QueryOrders
OrderReply = OrderAck | OrderRejected | OrderSnapshot
OrderFeed = OrderUpdate

ORDER_REQUEST_CODEC: Codec[OrderRequest] = Codec("order_request", OrderRequest)
ORDER_REPLY_CODEC: Codec[OrderReply] = Codec("order_reply", OrderReply)
ORDER_FEED_CODEC: Codec[OrderFeed] = Codec("order_feed", OrderFeed)
