"""Declared sockets: what an actor says it needs, and how the runtime opens it.

An actor lists :class:`SocketSpec` s; the runtime opens them on the process's one
``zmq.asyncio.Context``, runs one receive loop per socket that has a ``recv`` codec, and
encodes with the ``send`` codec on :meth:`Actor.send`. Every socket gets a bounded linger
so that closing never hangs on an absent peer.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import zmq
import zmq.asyncio

from gridsup.messages.codec import Codec

# How long close() may wait to flush queued frames (ms): bounded, never forever.
DEFAULT_LINGER_MS = 500


class SocketType(enum.Enum):
    PUB = zmq.PUB
    SUB = zmq.SUB
    PUSH = zmq.PUSH
    PULL = zmq.PULL
    DEALER = zmq.DEALER
    ROUTER = zmq.ROUTER
    REQ = zmq.REQ
    REP = zmq.REP


@dataclass(frozen=True, slots=True)
class SocketSpec:
    """One socket of an actor.

    ``recv`` decodes incoming frames (the last frame of a multipart message; earlier
    frames such as a topic or a ROUTER identity are handed over as the envelope);
    ``None`` makes the socket send-only. ``send`` encodes what :meth:`Actor.send` gets.
    ``subscribe`` applies to SUB sockets (empty: subscribe to everything).
    """

    name: str
    type: SocketType
    endpoint: str
    bind: bool = False
    recv: Codec[Any] | None = None
    send: Codec[Any] | None = None
    subscribe: tuple[bytes, ...] = ()
    sndhwm: int | None = None
    rcvhwm: int | None = None
    identity: bytes | None = None
    linger_ms: int = DEFAULT_LINGER_MS


def open_socket(ctx: zmq.asyncio.Context, spec: SocketSpec) -> zmq.asyncio.Socket:
    """Create, configure and bind/connect the socket described by ``spec``.

    Raises:
        zmq.ZMQError: the endpoint cannot be bound or connected (address in use, ...).
    """
    sock = ctx.socket(spec.type.value)
    sock.setsockopt(zmq.LINGER, spec.linger_ms)
    if spec.sndhwm is not None:
        sock.setsockopt(zmq.SNDHWM, spec.sndhwm)
    if spec.rcvhwm is not None:
        sock.setsockopt(zmq.RCVHWM, spec.rcvhwm)
    if spec.identity is not None:
        sock.setsockopt(zmq.IDENTITY, spec.identity)
    if spec.type is SocketType.SUB:
        for topic in spec.subscribe or (b"",):
            sock.setsockopt(zmq.SUBSCRIBE, topic)
    try:
        if spec.bind:
            sock.bind(spec.endpoint)
        else:
            sock.connect(spec.endpoint)
    except zmq.ZMQError:
        sock.close(linger=0)
        raise
    return sock


def _resolve(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _poll_in(sock: zmq.asyncio.Socket) -> Any:
    """A future resolved when ``sock`` is readable.

    pyzmq's public ``poll()`` builds a Poller, a watcher future and callbacks per call
    (tens of microseconds on the latency path); its socket's own recv-event queue does
    the same job with one future. Fall back to ``poll()`` if that private API is gone.
    """
    add = getattr(sock, "_add_recv_event", None)
    if add is None:
        return sock.poll()
    return add("poll")


_DUPLEX = frozenset({SocketType.DEALER, SocketType.ROUTER, SocketType.REQ, SocketType.REP})


class OpenSocket:
    """An open socket: the asyncio socket for waiting, a synchronous shadow of the same
    handle for non-blocking draining and sending (no Future per frame on the hot path).

    The file descriptor zmq gives asyncio is edge-triggered, and any send or ZMQ_EVENTS
    read on the socket may consume its edge (zmq_getsockopt(3), ZMQ_FD): a ROUTER or
    DEALER that sends through the shadow while its receive loop waits on the asyncio
    socket could miss frames that arrived meanwhile and wait forever. So every send
    re-checks ZMQ_EVENTS and, if frames are waiting, wakes whoever waits in
    :meth:`wait_readable`.
    """

    __slots__ = ("_waiters", "async_sock", "duplex", "spec", "sync_sock")

    def __init__(self, spec: SocketSpec, sock: zmq.asyncio.Socket) -> None:
        self.spec = spec
        # Sockets that both send and receive: a send can consume their receive wake-up.
        self.duplex = spec.type in _DUPLEX
        self.async_sock = sock
        self.sync_sock: zmq.Socket[bytes] = zmq.Socket.shadow(sock.underlying)
        self._waiters: set[asyncio.Future[None]] = set()

    def readable(self) -> bool:
        """A frame is waiting (reading ZMQ_EVENTS also re-arms zmq's notifications)."""
        events = cast(int, self.sync_sock.getsockopt(zmq.EVENTS))
        return bool(events & zmq.POLLIN)

    def after_send(self) -> None:
        """Call after every send through the shadow (see the class docstring)."""
        if self._waiters and self.readable():
            self._wake()

    def _wake(self, *_: object) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_readable(self) -> None:
        """Return once a frame is waiting to be read."""
        if self.readable():
            return
        # One plain future woken by either zmq's poll or a send's re-check: cheaper per
        # wake-up than racing two tasks with asyncio.wait (this is the latency path).
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        poll = cast("asyncio.Future[Any]", _poll_in(self.async_sock))
        # This poll wakes only its own waiter: its callback also runs when it is cancelled
        # below, by which time the next wait's waiter is registered, and waking that one
        # would start an endless chain of empty wake-ups (a busy loop at idle).
        poll.add_done_callback(partial(_resolve, waiter))
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)
            if not poll.done():
                poll.cancel()

    def close(self, linger_ms: int | None = None) -> None:
        self.async_sock.close(linger=self.spec.linger_ms if linger_ms is None else linger_ms)
