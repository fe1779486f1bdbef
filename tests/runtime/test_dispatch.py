"""ActorSockets in one process, over inproc:// sockets: decoded messages reach their
socket's handler with their envelope, garbage is counted and dropped, an uncounted
socket's messages are not counted, and a handler that returns a value crashes the actor
and stops the reading."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import zmq
import zmq.asyncio

from gridsup.messages.market import MARKET_CODEC, MarketMessage, Tick
from gridsup.runtime.dispatch import ActorSockets
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType

WAIT_S = 10.0


def _tick(i: int) -> Tick:
    return Tick(symbol="BTC/USDT", timestamp=i, last=Decimal(1))


@pytest.fixture
def ctx() -> Iterator[zmq.asyncio.Context]:
    context = zmq.asyncio.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)


class Seen:
    """A handler that keeps what it got (and returns ``result``)."""

    def __init__(self, result: Any = None) -> None:
        self.messages: list[tuple[MarketMessage, list[bytes]]] = []
        self.result = result

    def __call__(self, message: MarketMessage, envelope: list[bytes]) -> Any:
        self.messages.append((message, envelope))
        return self.result


async def _eventually(check: Any) -> None:
    async with asyncio.timeout(WAIT_S):
        while not check():
            await asyncio.sleep(0.005)


def _sockets(crashes: list[BaseException], uncounted: tuple[str, ...] = ()) -> ActorSockets:
    return ActorSockets(lambda: "probe", crashes.append, uncounted=uncounted)


def _pull(name: str, handler: Seen) -> SocketSpec:
    return SocketSpec(
        name,
        SocketType.PULL,
        f"inproc://{name}",
        bind=True,
        recv=Receiver(MARKET_CODEC, handler),
        linger_ms=0,
    )


def _push(ctx: zmq.asyncio.Context, name: str) -> zmq.Socket[bytes]:
    push: zmq.Socket[bytes] = ctx.socket(zmq.PUSH, socket_class=zmq.Socket)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(f"inproc://{name}")
    return push


def test_two_sockets_with_one_name_are_refused(ctx: zmq.asyncio.Context) -> None:
    io = _sockets([])
    spec = _pull("twice", Seen())

    with pytest.raises(ValueError, match="two sockets named 'twice'"):
        io.open(ctx, (spec, spec))

    assert "twice" in io  # the first stays open, for close()
    io.close()
    assert "twice" not in io


async def test_messages_reach_their_handler_and_garbage_is_counted(
    ctx: zmq.asyncio.Context,
) -> None:
    crashes: list[BaseException] = []
    ticks, commands = Seen(), Seen()
    io = _sockets(crashes, uncounted=("commands",))
    io.open(ctx, (_pull("ticks", ticks), _pull("commands", commands)))
    try:
        io.dispatch()
        push, other = _push(ctx, "ticks"), _push(ctx, "commands")
        push.send_multipart([b"topic", MARKET_CODEC.encode(_tick(1))])
        push.send(b"garbage")
        push.send(MARKET_CODEC.encode(_tick(2)))
        other.send(MARKET_CODEC.encode(_tick(3)))

        await _eventually(lambda: len(ticks.messages) == 2 and commands.messages)

        assert ticks.messages == [(_tick(1), [b"topic"]), (_tick(2), [])]
        assert commands.messages == [(_tick(3), [])]
        assert (io.messages_received, io.frames_dropped, crashes) == (2, 1, [])
    finally:
        io.close()


async def test_a_handler_that_returns_a_value_crashes_and_stops_the_reading(
    ctx: zmq.asyncio.Context,
) -> None:
    crashes: list[BaseException] = []
    handler = Seen(result=object())
    io = _sockets(crashes)
    io.open(ctx, (_pull("ticks", handler),))
    try:
        io.dispatch()
        push = _push(ctx, "ticks")
        push.send(MARKET_CODEC.encode(_tick(1)))
        push.send(MARKET_CODEC.encode(_tick(2)))

        await _eventually(lambda: crashes)
        await asyncio.sleep(0.05)  # a reading that went on would take the second tick

        assert len(handler.messages) == 1
        assert isinstance(crashes[0], TypeError)
        assert "handler of socket 'ticks' returned a value" in str(crashes[0])
    finally:
        io.close()
