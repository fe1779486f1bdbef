"""Store channel: strategy and execution actors -> the persistence actor.

DEALER (any actor) -> ROUTER (persistence): :data:`StoreRequest` in, :class:`Ack` back,
matched by ``request_id`` (:class:`LoadState` is answered by :class:`StateLoaded`,
:class:`FindRetiredIds` by :class:`RetiredIdsFound`).
Several writes may travel as one :class:`WriteBatch` (:data:`StoreMessage` is what the
channel carries), stored in one transaction; each of its requests is still answered by
its own Ack. Every request is idempotent on the persistence side (fills by exchange +
order id + trade id, order events by their ``event_id``, booked cycles by exchange + grid +
close order id, states by ``version``, retired client ids by account and id), so a sender
that misses an Ack simply sends the same request again.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from gridsup.messages.codec import Codec
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus


class SaveState(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Persist a grid's state. ``version`` increases by one per save; ``state`` is the
    strategy's own serialisation (opaque to the store)."""

    request_id: str
    grid_id: str
    version: int
    state: bytes
    # The fencing token of the saving incarnation (its grid lease's epoch, from the
    # StateLoaded that answered its claim); 0 for states no lease guards. A save with an
    # epoch below the stored one is refused: it is a dead incarnation's late write.
    epoch: int = 0


class RecordOrderEvent(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Append one event to the order-event log (append-only, keyed by ``event_id``)."""

    request_id: str
    event_id: str
    grid_id: str
    exchange: str
    client_order_id: str
    status: OrderStatus
    timestamp: int  # ms since the epoch, UTC
    intent: OrderIntent | None = None
    exchange_order_id: str | None = None
    reason: str | None = None
    # The order's cumulative filled amount at this event (None: unknown), so the store's
    # order row moves forward with the log (its upsert never lowers ``filled``).
    filled: Decimal | None = None


class RecordFill(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Store one fill exactly once, keyed by (exchange, exchange order id, trade id)."""

    request_id: str
    grid_id: str
    exchange: str
    exchange_order_id: str
    fill: FillReport


class RecordTrade(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Store one booked grid cycle (a sell closing its slot's buy) as a closed trade,
    exactly once per (exchange, grid_id, close_order_id). ``profit`` is net of ``fee``
    (both legs, quote); the entry's side is always buy."""

    request_id: str
    grid_id: str
    exchange: str
    symbol: str
    amount: Decimal
    open_price: Decimal
    open_order_id: str | None
    opened_at: int  # ms since the epoch, UTC
    close_price: Decimal
    close_order_id: str
    closed_at: int  # ms since the epoch, UTC
    fee: Decimal
    profit: Decimal


class LoadState(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Read a grid's latest saved state (answered by :class:`StateLoaded`).

    ``claim``: a new incarnation of the grid's strategy actor (holding the grid's lock)
    takes the grid's lease: its epoch goes up by one and is returned in the reply, the
    fencing token of every save this incarnation makes."""

    request_id: str
    grid_id: str
    claim: bool = False


class RecordRetiredIds(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Append client ids whose orders the paper account ``account`` has forgotten (its
    bounded history moved on) to the store's append-only list, each once; sent in the
    transaction of the snapshot that no longer holds those orders."""

    request_id: str
    account: str
    client_order_ids: list[str]


class FindRetiredIds(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Which of ``client_order_ids`` ``account`` retired (answered by
    :class:`RetiredIdsFound`, after the writes queued before it); with ``floors``, also
    the highest cycle it retired in each slot of ours (``exchange/paper/retired.py``)."""

    request_id: str
    account: str
    client_order_ids: list[str] = msgspec.field(default_factory=list)
    floors: bool = False


WriteRequest = SaveState | RecordOrderEvent | RecordFill | RecordTrade | RecordRetiredIds


class WriteBatch(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Write requests stored in one transaction, in order; each request acked by its own
    :class:`Ack`.

    The batch itself has no ``request_id`` and is never acknowledged: a sender tracks its
    requests one by one, exactly as if they had been sent alone. (Should the store refuse
    one of them for its data, the others are stored one by one, still in order.)
    """

    requests: list[WriteRequest]


class Ack(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The request is durable (``ok``) or failed with ``error``; ``duplicate`` says the
    store already had it (an idempotent re-send)."""

    request_id: str
    ok: bool = True
    duplicate: bool = False
    error: str | None = None


class StateLoaded(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The reply to :class:`LoadState`: the latest ``version`` and ``state`` saved for
    ``grid_id``, or ``version=0, state=None`` when nothing was ever saved."""

    request_id: str
    grid_id: str
    version: int
    state: bytes | None = None
    epoch: int = 0  # the lease epoch of a claim (0 without one)
    # A claim's grid is paused on request (``gridsup pause``; store/pauses.py): the
    # actor starts paused and sends nothing until it is resumed.
    paused: bool = False


class RetiredIdsFound(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The reply to :class:`FindRetiredIds`: the asked ids that were retired, and (when
    asked) the highest retired cycle per slot."""

    request_id: str
    retired: list[str] = msgspec.field(default_factory=list)
    floors: dict[str, int] = msgspec.field(default_factory=dict)


# One request: what a sender tracks and what is acknowledged (or answered).
StoreRequest = WriteRequest | LoadState | FindRetiredIds
# What travels on the channel: one request, or several writes as one WriteBatch.
StoreMessage = StoreRequest | WriteBatch
StoreReply = Ack | StateLoaded | RetiredIdsFound

STORE_REQUEST_CODEC: Codec[StoreMessage] = Codec("store_request", StoreMessage)
STORE_REPLY_CODEC: Codec[StoreReply] = Codec("store_reply", StoreReply)
