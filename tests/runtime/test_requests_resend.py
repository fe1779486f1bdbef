"""A Requester re-sends what goes unanswered, from one timer armed only while requests
are pending: a request answered in time leaves nothing that would wake the process
later. Real ZeroMQ sockets (a DEALER through the runtime's ActorSockets, a ROUTER as the
peer) in one process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast

import zmq
import zmq.asyncio

from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    LoadState,
    StateLoaded,
    StoreReply,
)
from gridsup.runtime.actor import Actor
from gridsup.runtime.dispatch import ActorSockets
from gridsup.runtime.requests import Requester
from gridsup.runtime.sockets import SocketSpec, SocketType

TIMEOUT = 0.3  # the requester's re-send timeout, s


def _crashed(exc: BaseException) -> None:
    raise AssertionError(f"a reader crashed: {exc!r}")


class Peer:
    """The store's side: a ROUTER that records every request and answers on demand."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str) -> None:
        self.sock: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER, socket_class=zmq.Socket)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.seen: list[tuple[float, LoadState]] = []  # (monotonic time, request)
        self.identity = b""

    async def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.sock.poll(0):
                self.identity, payload = self.sock.recv_multipart()
                request = STORE_REQUEST_CODEC.decode(payload)
                assert isinstance(request, LoadState)
                self.seen.append((time.monotonic(), request))
            await asyncio.sleep(0.005)

    def answer(self, request: LoadState) -> None:
        reply = StateLoaded(request_id=request.request_id, grid_id=request.grid_id, version=0)
        self.sock.send_multipart([self.identity, STORE_REPLY_CODEC.encode(reply)])


async def _scenario(base: Path, body: Any) -> None:
    ctx = zmq.asyncio.Context()
    endpoint = f"ipc://{base}/store.sock"
    peer = Peer(ctx, endpoint)
    io = ActorSockets(lambda: "t", _crashed)
    io.open(ctx, [SocketSpec("store", SocketType.DEALER, endpoint, send=STORE_REQUEST_CODEC)])
    requester: Requester[StoreReply] = Requester(
        cast(Actor, io), "store", STORE_REPLY_CODEC, prefix="t", timeout=TIMEOUT
    )
    io.read_with("store", requester.read)
    resender = asyncio.get_running_loop().create_task(requester.resend_loop())
    try:
        await body(requester, peer)
    finally:
        resender.cancel()
        io.close(0)
        peer.sock.close(0)
        ctx.term()


def _load(requester: Requester[StoreReply], grid: str) -> LoadState:
    return LoadState(request_id=requester.next_id(), grid_id=grid)


def test_a_request_answered_in_time_is_sent_once_and_leaves_no_timer(base: Path) -> None:
    async def body(requester: Requester[StoreReply], peer: Peer) -> None:
        replies: list[StoreReply] = []
        requester.fire(_load(requester, "g"), replies.append)
        assert requester.resend_armed  # something pending: the timer is there
        await peer.read_for(0.1)
        peer.answer(peer.seen[0][1])
        await peer.read_for(3 * TIMEOUT)  # long past the timeout: nothing comes again

        assert [r.request_id for r in replies] == [peer.seen[0][1].request_id]
        assert len(peer.seen) == 1 and requester.resends == 0
        assert not requester.resend_armed  # nothing would wake the process later

    asyncio.run(_scenario(base, body))


def test_an_unanswered_request_is_sent_again_after_the_timeout(base: Path) -> None:
    async def body(requester: Requester[StoreReply], peer: Peer) -> None:
        sent = time.monotonic()
        reply = asyncio.ensure_future(requester.request(_load(requester, "g")))
        await peer.read_for(TIMEOUT * 1.8)  # the first copy is left unanswered

        assert len(peer.seen) == 2, peer.seen
        first, again = peer.seen
        assert first[1] == again[1]  # the same request, the same id
        assert again[0] - sent >= TIMEOUT * 0.95
        peer.answer(again[1])
        answered = await asyncio.wait_for(reply, 2)
        assert answered.request_id == again[1].request_id
        assert requester.resends == 1 and requester.pending == 0
        assert not requester.resend_armed

    asyncio.run(_scenario(base, body))


def test_each_request_is_sent_again_on_its_own_due_time(base: Path) -> None:
    """A later request is not re-sent with the first (too early), nor a whole timeout
    after it (too late): the timer is armed again for the next one due."""

    async def body(requester: Requester[StoreReply], peer: Peer) -> None:
        requester.fire(_load(requester, "early"))
        await peer.read_for(TIMEOUT / 2)
        later_sent = time.monotonic()
        requester.fire(_load(requester, "late"))
        await peer.read_for(TIMEOUT * 1.3)

        copies = [(at, r.grid_id) for at, r in peer.seen]
        late = [at for at, grid in copies if grid == "late"]
        assert len(late) == 2, copies
        assert TIMEOUT * 0.95 <= late[1] - later_sent < TIMEOUT * 1.5, copies
        assert [grid for _, grid in copies].count("early") == 2, copies

    asyncio.run(_scenario(base, body))
