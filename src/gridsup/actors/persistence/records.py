"""Store-channel messages -> store records, and saved states <-> opaque bytes.

The persistence actor's one translation boundary: a :class:`SaveState` becomes a
:class:`StateRecord` whose JSON holds the sender's save counter and its bytes (base64),
a :class:`RecordOrderEvent` an :class:`OrderEventRecord` (plus the order's row when the
intent is known), a :class:`RecordFill` a :class:`FillRecord`, a :class:`RecordTrade`
a :class:`TradeRecord`, a :class:`RecordRetiredIds` a :class:`RetiredIdsRecord`.
"""

from __future__ import annotations

import base64
from typing import Any, assert_never

import msgspec

from gridsup.messages.common import OrderStatus
from gridsup.messages.store import (
    FindRetiredIds,
    LoadState,
    RecordFill,
    RecordOrderEvent,
    RecordRetiredIds,
    RecordTrade,
    SaveState,
    StoreRequest,
)
from gridsup.store.records import (
    FillRecord,
    OrderEventKind,
    OrderEventRecord,
    OrderRecord,
    RetiredIdsRecord,
    StateRecord,
    StoreWrite,
    TradeRecord,
)

# Schema version of the saved-state wrapper (the store's StateMigrations key).
STATE_SCHEMA = 1
_KINDS = {kind.value: kind for kind in OrderEventKind}


def request_records(msg: StoreRequest) -> list[StoreWrite]:
    """The records one write request becomes (the store's unit of idempotency).

    Raises:
        TypeError: ``msg`` is a read (LoadState, FindRetiredIds), which writes nothing.
    """
    match msg:
        case SaveState():
            return [state_record(msg)]
        case RecordOrderEvent():
            return event_records(msg)
        case RecordFill():
            return [fill_record(msg)]
        case RecordTrade():
            return [trade_record(msg)]
        case RecordRetiredIds():
            return [
                RetiredIdsRecord(account=msg.account, client_order_ids=tuple(msg.client_order_ids))
            ]
        case LoadState() | FindRetiredIds():
            raise TypeError(f"a {type(msg).__name__} writes nothing")
        case _:
            assert_never(msg)


def state_record(msg: SaveState) -> StateRecord:
    """The row content for one SaveState: the save counter and the opaque bytes.

    The bytes stay bytes: the store's JSON encoder writes them as standard base64 text
    in one C pass (the same text as ``base64.b64encode``), where encoding them here
    would copy a 300 kB paper snapshot twice more per commit."""
    return StateRecord(
        strategy=msg.grid_id,
        epoch=msg.epoch,
        state={
            "version": STATE_SCHEMA,
            "save_version": msg.version,
            "encoding": "base64",
            "data": msg.state,
        },
    )


def decode_state(saved: dict[str, Any]) -> tuple[int, bytes]:
    """(save counter, bytes) of a state written by :func:`state_record`.

    Raises:
        ValueError: the row was not written by the persistence actor (no ``data``).
    """
    data = saved.get("data")
    version = saved.get("save_version")
    if not isinstance(data, str) or not isinstance(version, int):
        raise ValueError("saved state has no save_version/data: not written by gridsup")
    return version, base64.b64decode(data)


def event_kind(msg: RecordOrderEvent) -> OrderEventKind:
    """What happened, from the status (final ones name themselves) or the sender's
    ``reason`` when it is a kind's name (``filled``, ``cancel_requested`` ...)."""
    if msg.status is OrderStatus.REJECTED:
        return OrderEventKind.REJECTED
    if msg.status is OrderStatus.CANCELED:
        return OrderEventKind.CANCELED
    if msg.reason in _KINDS:
        return _KINDS[msg.reason]
    if msg.exchange_order_id is None:
        return OrderEventKind.REQUESTED
    return OrderEventKind.UPDATED


def event_records(msg: RecordOrderEvent) -> list[StoreWrite]:
    """The event log line, and the order's row moved forward when the intent is known."""
    payload: dict[str, Any] = {"status": msg.status.value}
    if msg.reason is not None:
        payload["reason"] = msg.reason
    if msg.exchange_order_id is not None:
        payload["exchange_order_id"] = msg.exchange_order_id
    if msg.filled is not None:
        payload["filled"] = str(msg.filled)
    if msg.intent is not None:
        payload["amount"] = str(msg.intent.amount)
        payload["side"] = msg.intent.side.value
        if msg.intent.price is not None:
            payload["price"] = str(msg.intent.price)
    out: list[StoreWrite] = [
        OrderEventRecord(
            exchange=msg.exchange,
            strategy=msg.grid_id,
            client_order_id=msg.client_order_id,
            kind=event_kind(msg),
            timestamp=msg.timestamp,
            payload=payload,
            event_key=msg.event_id,
        )
    ]
    if msg.intent is not None:
        row = OrderRecord.from_intent(
            msg.intent, exchange=msg.exchange, strategy=msg.grid_id, timestamp=msg.timestamp
        )
        out.append(
            msgspec.structs.replace(
                row,
                status=msg.status,
                filled=msg.filled if msg.filled is not None else row.filled,
                exchange_order_id=msg.exchange_order_id,
            )
        )
    return out


def fill_record(msg: RecordFill) -> FillRecord:
    record = FillRecord.from_report(msg.fill, exchange=msg.exchange, strategy=msg.grid_id)
    return msgspec.structs.replace(record, exchange_order_id=msg.exchange_order_id)


def trade_record(msg: RecordTrade) -> TradeRecord:
    """A booked grid cycle as a closed trade row (entry side buy)."""
    return TradeRecord(
        exchange=msg.exchange,
        strategy=msg.grid_id,
        symbol=msg.symbol,
        amount=msg.amount,
        open_price=msg.open_price,
        open_order_id=msg.open_order_id,
        opened_at=msg.opened_at,
        close_price=msg.close_price,
        close_order_id=msg.close_order_id,
        closed_at=msg.closed_at,
        fee=msg.fee,
        profit=msg.profit,
    )
