"""Declared sockets: what an actor says it needs, and how the runtime opens it.

An actor lists :class:`SocketSpec` s; the runtime opens them on the process's one
context, reads every socket that has a :class:`Receiver` from its file descriptor's
callback (no task per socket) and hands each decoded message to the receiver's handler,
and encodes with the ``send`` codec on :meth:`Actor.send`. Every socket gets a bounded
linger so that closing never hangs on an absent peer.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import zmq

from gridsup.messages.codec import Codec

R = TypeVar("R")

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


class Receiver:
    """What a socket receives and who handles it: ``codec`` decodes the last frame of
    each message into a member of its channel's tagged union, and ``handler`` gets that
    member with the frames before it (the envelope: a topic, a ROUTER identity).

    The constructor ties the two together for mypy: :class:`Codec` is invariant in its
    union, so ``handler`` must accept every member of it. A handler that takes only
    some kinds does not type-check, nor does one that returns something (an ``async``
    handler). The handler matches its union exhaustively (``case _:
    assert_never(message)``), so a message kind added to a channel fails type-checking
    until it is handled.

    The class itself is not generic on purpose: a ``SocketSpec[Any]`` in the return type
    of :meth:`Actor.sockets` would make mypy infer the union as ``Any`` from that context
    and accept any handler; a generic ``__init__`` with a plain return type cannot.
    """

    __slots__ = ("codec", "handler")

    def __init__(self, codec: Codec[R], handler: Callable[[R, list[bytes]], None]) -> None:
        self.codec: Codec[Any] = codec
        # Typed as returning anything: a handler that returns a value (an un-awaited
        # coroutine) crashes the actor at run time too.
        self.handler: Callable[[Any, list[bytes]], object] = handler

    def __repr__(self) -> str:
        return f"Receiver({self.codec!r}, {getattr(self.handler, '__qualname__', self.handler)})"


@dataclass(frozen=True, slots=True)
class SocketSpec:
    """One socket of an actor.

    ``recv`` decodes incoming frames and says who handles them (:class:`Receiver`);
    ``None`` makes the socket send-only, or one the actor reads itself
    (:meth:`Actor.read_with`). ``send`` encodes what :meth:`Actor.send` gets.
    ``subscribe`` applies to SUB sockets (empty: subscribe to everything).
    """

    name: str
    type: SocketType
    endpoint: str
    bind: bool = False
    recv: Receiver | None = None
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
    """An open socket, read and written without blocking, and two ways to learn that it
    is readable: one persistent reader on zmq's file descriptor (registered with the
    event loop on first use) calls the socket's *reader* (:meth:`read_with`) right there,
    in the descriptor's callback, and resolves the plain futures of
    :meth:`wait_readable`. No task per socket and no pyzmq asyncio future per wait: a
    message costs one loop iteration, not two (wake the task, then run it).

    asyncio allows one reader per file descriptor, and pyzmq's asyncio socket registers
    its own on the same one as soon as any of its async methods is used: so nothing may
    use the asyncio API of these sockets (a shadow ``zmq.Socket`` is fine).

    The file descriptor is edge-triggered: it signals that zmq has *commands* to
    process, and any send, receive or ZMQ_EVENTS read on the socket may process them
    (zmq_getsockopt(3), ZMQ_FD). Hence: the descriptor's callback always reads ZMQ_EVENTS
    or receives until zmq.Again (either drains the descriptor, else the loop would call
    it again and again); a reader reads until zmq.Again or until ZMQ_EVENTS lacks
    POLLIN (:func:`drain`); a wait checks ZMQ_EVENTS before parking; and every send on a
    ROUTER or DEALER, which may consume the edge of frames that arrived meanwhile,
    re-checks ZMQ_EVENTS and wakes the waiters and the reader (:meth:`after_send`) --
    the reader on the next loop iteration, so that a send from inside it never recurses.
    A send from inside this socket's own reader needs no check: the reader's own last
    ZMQ_EVENTS read or zmq.Again comes after it.
    """

    __slots__ = (
        "_draining",
        "_loop",
        "_reader",
        "_scheduled",
        "_waiters",
        "duplex",
        "spec",
        "sync_sock",
    )

    def __init__(self, spec: SocketSpec, sock: zmq.Socket[bytes]) -> None:
        self.spec = spec
        # Sockets that both send and receive: a send can consume their receive wake-up.
        self.duplex = spec.type in _DUPLEX
        self.sync_sock = sock
        self._waiters: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # set once the fd reader is on
        self._reader: Callable[[], bool] | None = None
        self._draining = False  # inside self._reader (its sends need no check)
        self._scheduled = False  # a call_soon of self._resume is pending

    def readable(self) -> bool:
        """A frame is waiting (reading ZMQ_EVENTS also re-arms zmq's notifications)."""
        events = cast(int, self.sync_sock.getsockopt(zmq.EVENTS))
        return bool(events & zmq.POLLIN)

    def read_with(self, reader: Callable[[], bool] | None) -> None:
        """Call ``reader`` from the descriptor's callback whenever frames may wait
        (``None``: stop). It must receive with NOBLOCK until zmq.Again or until
        ZMQ_EVENTS lacks POLLIN (:func:`drain` does), or stop early and return True to
        be called again on the next loop iteration (fairness); it must not raise.
        Frames that are already waiting are read on the next loop iteration.
        """
        self._reader = reader
        if reader is None:
            return
        self._ensure_fd_reader()
        self._schedule()  # what arrived before (its edge may be gone)

    def after_send(self) -> None:
        """Call after every send on a duplex socket (see the class docstring)."""
        if self._draining or not (self._waiters or self._reader is not None):
            return
        if self.readable():
            self._wake()
            self._schedule()

    def _on_fd(self) -> None:
        if self._waiters or self._reader is None:
            # Always read ZMQ_EVENTS, waiter or not: it drains the descriptor.
            if not self.readable():
                return
            self._wake()
        if self._reader is not None and not self._scheduled:
            self._read()

    def _read(self) -> None:
        reader = self._reader
        assert reader is not None
        self._draining = True
        try:
            more = reader()
        finally:
            self._draining = False
        if more:
            self._schedule()  # a full batch: let the rest of the loop run first

    def _schedule(self) -> None:
        if not self._scheduled and self._loop is not None and self._reader is not None:
            self._scheduled = True
            self._loop.call_soon(self._resume)

    def _resume(self) -> None:
        self._scheduled = False
        if self._reader is not None and self._loop is not None:
            self._read()

    def _wake(self) -> None:
        if not self._waiters:
            return
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _ensure_fd_reader(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.get_running_loop()
            loop.add_reader(self.sync_sock.FD, self._on_fd)
            self._loop = loop
        return self._loop

    async def wait_readable(self) -> None:
        """Return once a frame is waiting to be read."""
        if self.readable():
            return
        waiter = self._ensure_fd_reader().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def close(self, linger_ms: int | None = None) -> None:
        """Stop reading, remove the reader from the event loop, then close the socket."""
        self._reader = None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.sync_sock.FD)
        self._loop = None
        self.sync_sock.close(linger=self.spec.linger_ms if linger_ms is None else linger_ms)


def drain(sock: zmq.Socket[bytes], handle: Callable[[list[bytes]], None], limit: int) -> bool:
    """Receive up to ``limit`` messages from ``sock`` without blocking, each handed to
    ``handle``; True if it stopped at the limit (frames may remain).

    Ends as the descriptor's edge rules want (see :class:`OpenSocket`): on zmq.Again, or
    on a ZMQ_EVENTS read without POLLIN. ZMQ_EVENTS is read once, after the first
    message: for a lone message (the common case) that is cheaper than a failing
    receive, which raises; in a burst, receives from the already active pipe cost no
    system call, while every ZMQ_EVENTS read costs one.

    Raises:
        Whatever ``handle`` raises (the messages after it stay queued).
    """
    recv = sock.recv_multipart
    for n in range(limit):
        try:
            frames = recv(zmq.NOBLOCK)
        except zmq.Again:
            return False
        handle(frames)
        if not n and not cast(int, sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            return False
    return True
