"""Issue 6 message additions round-trip through their channel codecs; old frames (without
the new fields) still decode with the defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from message_samples import FILL, INTENT

from gridsup.messages.codec import Codec
from gridsup.messages.common import OrderStatus
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    OrderSnapshot,
    OrderState,
    OrderUpdate,
    QueryOrders,
)
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    LoadState,
    RecordFill,
    SaveState,
    StateLoaded,
    WriteBatch,
)


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        (STORE_REQUEST_CODEC, LoadState(request_id="r1", grid_id="g1")),
        (
            STORE_REQUEST_CODEC,
            WriteBatch(
                requests=[
                    SaveState(request_id="s", grid_id="g1", version=3, state=b"\x00snap"),
                    RecordFill(
                        request_id="f",
                        grid_id="g1",
                        exchange="paper",
                        exchange_order_id="9",
                        fill=FILL,
                    ),
                ]
            ),
        ),
        (STORE_REPLY_CODEC, StateLoaded(request_id="r1", grid_id="g1", version=0)),
        (STORE_REPLY_CODEC, StateLoaded(request_id="r1", grid_id="g1", version=7, state=b"\x00s")),
        (
            ORDER_REQUEST_CODEC,
            QueryOrders(request_id="r", strategy="a", client_order_ids=("gs1", "gs2")),
        ),
        (
            ORDER_REPLY_CODEC,
            OrderSnapshot(
                request_id="r",
                strategy="a",
                seq=4,
                epoch=1_700_000_000_123,
                orders=(
                    OrderState(
                        intent=INTENT,
                        status=OrderStatus.CLOSED,
                        filled=Decimal("0.001"),
                        exchange_order_id="9",
                        fills=(FILL,),
                    ),
                ),
            ),
        ),
        (
            ORDER_FEED_CODEC,
            OrderUpdate(
                strategy="a",
                seq=1,
                epoch=5,
                client_order_id=INTENT.client_order_id,
                status=OrderStatus.OPEN,
                filled=Decimal(0),
            ),
        ),
    ],
    ids=lambda v: type(v).__name__,
)
def test_new_messages_round_trip(codec: Codec[Any], message: Any) -> None:
    assert codec.decode(codec.encode(message)) == message


def test_frames_without_new_fields_decode_with_defaults() -> None:
    enc = msgspec.msgpack.Encoder()
    query = ORDER_REQUEST_CODEC.decode(
        enc.encode({"type": "QueryOrders", "request_id": "r", "strategy": "a"})
    )
    assert query == QueryOrders(request_id="r", strategy="a")
    assert query.client_order_ids == ()
    update = ORDER_FEED_CODEC.decode(
        enc.encode(
            {
                "type": "OrderUpdate",
                "strategy": "a",
                "seq": 1,
                "client_order_id": "x",
                "status": "open",
                "filled": "0",
            }
        )
    )
    assert isinstance(update, OrderUpdate)
    assert update.epoch == 0


def test_a_write_batch_holds_writes_only() -> None:
    """A read in a batch could not be answered in the batch's order: the codec refuses it."""
    enc = msgspec.msgpack.Encoder()
    frame = enc.encode(
        {
            "type": "WriteBatch",
            "requests": [{"type": "LoadState", "request_id": "r", "grid_id": "g"}],
        }
    )
    with pytest.raises(msgspec.DecodeError):
        STORE_REQUEST_CODEC.decode(frame)


def test_load_state_is_a_store_request_not_a_reply() -> None:
    frame = STORE_REQUEST_CODEC.encode(LoadState(request_id="r", grid_id="g"))
    with pytest.raises(msgspec.DecodeError):
        STORE_REPLY_CODEC.decode(frame)
