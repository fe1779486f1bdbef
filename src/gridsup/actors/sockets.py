"""Declared sockets: what an actor says it needs, and how the runtime opens it.

An actor lists :class:`SocketSpec` s; the runtime opens them on the process's one
context, runs one receive loop per socket that has a ``recv`` codec, and
encodes with the ``send`` codec on :meth:`Actor.send`. Every socket gets a bounded linger
so that closing never hangs on an absent peer.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, cast

import zmq

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


def open_socket(ctx: zmq.Context[Any], spec: SocketSpec) -> zmq.Socket[bytes]:
    """Create, configure and bind/connect the socket described by ``spec``.

    A plain (synchronous) socket even on an asyncio context: waiting goes through
    :class:`OpenSocket`, whose reader on the socket's file descriptor would be replaced
    by pyzmq's own if the asyncio API of the socket were ever used.

    Raises:
        zmq.ZMQError: the endpoint cannot be bound or connected (address in use, ...).
    """
    sock: zmq.Socket[bytes] = ctx.socket(spec.type.value, socket_class=zmq.Socket)
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


_DUPLEX = frozenset({SocketType.DEALER, SocketType.ROUTER, SocketType.REQ, SocketType.REP})


class OpenSocket:
    """An open socket, read and written without blocking, and a way to wait until it is
    readable: one persistent reader on zmq's file descriptor (registered with the event
    loop on the first wait) resolves plain futures. No pyzmq asyncio future per wait:
    that machinery was about a third of an actor's CPU per message.

    asyncio allows one reader per file descriptor, and pyzmq's asyncio socket registers
    its own on the same one as soon as any of its async methods is used: so nothing may
    use the asyncio API of these sockets (a shadow ``zmq.Socket`` is fine).

    The file descriptor is edge-triggered: it signals that zmq has *commands* to
    process, and any send, receive or ZMQ_EVENTS read on the socket may process them
    (zmq_getsockopt(3), ZMQ_FD). Hence: the reader always reads ZMQ_EVENTS (which also
    drains the descriptor, else the loop would call it again and again); a wait checks
    ZMQ_EVENTS before parking; and every send on a ROUTER or DEALER, which may consume
    the edge of frames that arrived meanwhile, re-checks ZMQ_EVENTS and wakes whoever
    waits in :meth:`wait_readable` (:meth:`after_send`).
    """

    __slots__ = ("_loop", "_waiters", "duplex", "spec", "sync_sock")

    def __init__(self, spec: SocketSpec, sock: zmq.Socket[bytes]) -> None:
        self.spec = spec
        # Sockets that both send and receive: a send can consume their receive wake-up.
        self.duplex = spec.type in _DUPLEX
        self.sync_sock = sock
        self._waiters: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # set once the reader is on

    def readable(self) -> bool:
        """A frame is waiting (reading ZMQ_EVENTS also re-arms zmq's notifications)."""
        events = cast(int, self.sync_sock.getsockopt(zmq.EVENTS))
        return bool(events & zmq.POLLIN)

    def after_send(self) -> None:
        """Call after every send on a duplex socket (see the class docstring)."""
        if self._waiters and self.readable():
            self._wake()

    def _on_fd(self) -> None:
        # Always read ZMQ_EVENTS, waiter or not: it drains the descriptor.
        if self.readable() and self._waiters:
            self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_readable(self) -> None:
        """Return once a frame is waiting to be read."""
        if self.readable():
            return
        loop = asyncio.get_running_loop()
        if self._loop is None:
            loop.add_reader(self.sync_sock.FD, self._on_fd)
            self._loop = loop
        waiter = loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def close(self, linger_ms: int | None = None) -> None:
        """Remove the reader from the event loop, then close the socket."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.sync_sock.FD)
        self._loop = None
        self.sync_sock.close(linger=self.spec.linger_ms if linger_ms is None else linger_ms)
