"""Every channel's codec round-trips its union and rejects garbage with DecodeError."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from message_samples import FILL, INTENT

from gridsup.messages.codec import Codec
from gridsup.messages.common import OrderStatus
from gridsup.messages.control import (
    COMMAND_CODEC,
    CONTROL_REPLY_CODEC,
    CONTROL_REQUEST_CODEC,
    REPORT_CODEC,
    ActorStatus,
    Failed,
    Heartbeat,
    Ready,
    StatusQuery,
    StatusReply,
    Stop,
    StopAccepted,
    StopRequest,
)
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderSnapshot,
    OrderState,
    OrderUpdate,
    PlaceOrder,
    QueryOrders,
)
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    RecordFill,
    RecordOrderEvent,
    SaveState,
)

# (codec, one example of every member of its union)
SAMPLES: list[tuple[Codec[Any], list[Any]]] = [
    (
        MARKET_CODEC,
        [Tick(symbol="BTC/USDT", timestamp=1, last=Decimal("65000.10"), bid=Decimal("65000"))],
    ),
    (
        ORDER_REQUEST_CODEC,
        [
            PlaceOrder(request_id="r1", strategy="g1", intent=INTENT),
            CancelOrder(request_id="r2", strategy="g1", client_order_id="c", symbol="BTC/USDT"),
            QueryOrders(request_id="r3", strategy="g1"),
        ],
    ),
    (
        ORDER_REPLY_CODEC,
        [
            OrderAck(
                request_id="r1", client_order_id="c", status=OrderStatus.OPEN, exchange_order_id="9"
            ),
            OrderRejected(
                request_id="r1", client_order_id="c", reason="min notional", retryable=False
            ),
            OrderSnapshot(
                request_id="r3",
                strategy="g1",
                seq=42,
                orders=(
                    OrderState(intent=INTENT, status=OrderStatus.OPEN, filled=Decimal("0.0005")),
                ),
            ),
        ],
    ),
    (
        ORDER_FEED_CODEC,
        [
            OrderUpdate(
                strategy="g1",
                seq=43,
                client_order_id="c",
                status=OrderStatus.OPEN,
                filled=Decimal("0.0005"),
                fill=FILL,
            )
        ],
    ),
    (
        STORE_REQUEST_CODEC,
        [
            SaveState(request_id="s1", grid_id="g1", version=3, state=b"\x00\x01state"),
            RecordOrderEvent(
                request_id="s2",
                event_id="e1",
                grid_id="g1",
                exchange="binance",
                client_order_id="c",
                status=OrderStatus.CANCELED,
                timestamp=5,
                intent=INTENT,
            ),
            RecordFill(
                request_id="s3", grid_id="g1", exchange="binance", exchange_order_id="9", fill=FILL
            ),
        ],
    ),
    (STORE_REPLY_CODEC, [Ack(request_id="s1"), Ack(request_id="s2", ok=False, error="db down")]),
    (
        REPORT_CODEC,
        [
            Ready(actor="a", pid=1),
            Heartbeat(
                actor="a",
                pid=1,
                seq=2,
                status={"ticks": 3, "mode": "dry_run", "lag": 0.5, "ok": True},
            ),
            Failed(actor="a", pid=1, reason="boom"),
        ],
    ),
    (COMMAND_CODEC, [Stop(cancel_orders=True), Heartbeat(actor="supervisor", pid=1)]),
    (CONTROL_REQUEST_CODEC, [StatusQuery(), StopRequest(cancel_orders=True)]),
    (
        CONTROL_REPLY_CODEC,
        [
            StatusReply(
                supervisor_pid=1,
                uptime=2.5,
                state="running",
                actors=(
                    ActorStatus(
                        name="a", kind="strategy", state="running", pid=3, status={"x": None}
                    ),
                ),
            ),
            StopAccepted(supervisor_pid=1),
        ],
    ),
]
CASES = [(codec, message) for codec, messages in SAMPLES for message in messages]
CODECS = [codec for codec, _ in SAMPLES]


@pytest.mark.parametrize(("codec", "message"), CASES, ids=lambda v: repr(v)[:40])
def test_every_message_round_trips_through_its_channel_codec(
    codec: Codec[Any], message: Any
) -> None:
    assert codec.decode(codec.encode(message)) == message


def test_decimals_travel_as_strings_and_keep_their_exponent() -> None:
    raw = msgspec.msgpack.decode(MARKET_CODEC.encode(SAMPLES[0][1][0]))

    assert raw["last"] == "65000.10"
    assert MARKET_CODEC.decode(MARKET_CODEC.encode(SAMPLES[0][1][0])).last.as_tuple().exponent == -2


@pytest.mark.parametrize(("codec", "message"), CASES, ids=lambda v: repr(v)[:40])
def test_every_truncation_of_a_frame_is_rejected(codec: Codec[Any], message: Any) -> None:
    frame = codec.encode(message)

    for cut in range(len(frame)):
        with pytest.raises(msgspec.DecodeError):
            codec.decode(frame[:cut])


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        (MARKET_CODEC, Ready(actor="a", pid=1)),  # a member of another channel
        (CONTROL_REQUEST_CODEC, Stop()),
        (REPORT_CODEC, StatusQuery()),
    ],
)
def test_a_message_of_another_channel_is_rejected(codec: Codec[Any], message: Any) -> None:
    with pytest.raises(msgspec.DecodeError, match="Invalid value"):
        codec.decode(msgspec.msgpack.encode(message))


def test_a_wrong_field_type_is_rejected_naming_the_field() -> None:
    bad = msgspec.msgpack.encode(
        {"type": "Tick", "symbol": "X", "timestamp": 1, "last": "not-a-number"}
    )

    with pytest.raises(msgspec.ValidationError, match=r"\$\.last"):
        MARKET_CODEC.decode(bad)


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(max_size=200), index=st.integers(min_value=0, max_value=len(CODECS) - 1))
def test_random_bytes_never_raise_anything_but_decode_error(frame: bytes, index: int) -> None:
    codec = CODECS[index]
    with contextlib.suppress(msgspec.DecodeError):  # the only acceptable failure
        codec.decode(frame)


@settings(max_examples=3000, deadline=None)
@given(data=st.data())
def test_corrupted_frames_never_raise_anything_but_decode_error(data: st.DataObject) -> None:
    codec, message = data.draw(st.sampled_from(CASES))
    frame = bytearray(codec.encode(message))
    position = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    frame[position] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(msgspec.DecodeError):
        codec.decode(bytes(frame))
