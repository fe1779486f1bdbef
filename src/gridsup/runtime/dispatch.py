"""An actor's open sockets: sending without blocking, reading from the sockets' file
descriptor callbacks, and the dispatch of each decoded message to its socket's handler.

The :class:`~gridsup.runtime.actor.Actor` owns one :class:`ActorSockets` and decides
when it opens, dispatches and closes (its lifecycle); this module does the reading and
the writing. A frame that does not decode is logged, counted and dropped; a handler
runs in the loop iteration that saw its socket's descriptor fire, with no task in
between (see :class:`~gridsup.runtime.sockets.OpenSocket`), and so must be synchronous.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec
import structlog
import zmq

from gridsup.runtime.sockets import OpenSocket, SocketSpec, drain, open_socket

log = structlog.get_logger("gridsup.actors")

# Frames taken from one socket before the rest of the loop runs (fairness vs. speed).
_BATCH = 256


class ActorSockets:
    """The open sockets of one actor, by name, and what was received and dropped on them.

    ``actor`` names the actor (for logs and errors; its name is known only once it
    runs); ``crashed`` crashes it (a reader or a handler raised); ``uncounted`` names
    the sockets whose messages are not the actor's own (the supervisor's commands).
    """

    def __init__(
        self,
        actor: Callable[[], str],
        crashed: Callable[[BaseException], None],
        uncounted: Iterable[str] = (),
    ) -> None:
        self._actor = actor
        self._crashed = crashed
        self._uncounted = frozenset(uncounted)
        self._socks: dict[str, OpenSocket] = {}
        self.messages_received = 0
        self.frames_dropped = 0
        self.sends_dropped = 0

    def __contains__(self, name: str) -> bool:
        return name in self._socks

    def open(self, ctx: zmq.Context[Any], specs: Iterable[SocketSpec]) -> None:
        """Open ``specs`` in turn (those opened before a failure stay open, for
        :meth:`close`).

        Raises:
            ValueError: two sockets with one name.
            zmq.ZMQError: a socket cannot be bound or connected (address in use, ...).
        """
        for spec in specs:
            if spec.name in self._socks:
                raise ValueError(f"actor {self._actor()}: two sockets named {spec.name!r}")
            self._socks[spec.name] = OpenSocket(spec, open_socket(ctx, spec))

    def send(
        self,
        socket: str,
        message: Any,
        *,
        topic: bytes | None = None,
        envelope: Sequence[bytes] = (),
    ) -> bool:
        """Encode ``message`` with the socket's send codec and send it without blocking.

        Returns False (and counts a drop) when the socket's queue is full.

        Raises:
            KeyError: no socket called ``socket``.
            ValueError: the socket has no send codec.
        """
        sock = self._socks[socket]
        codec = sock.spec.send
        if codec is None:
            raise ValueError(f"socket {socket!r} has no send codec")
        payload = codec.encode(message)
        if topic is None and not envelope:
            return self._send(sock, payload)
        return self._send(sock, [*envelope, *((topic,) if topic is not None else ()), payload])

    def send_frames(self, socket: str, frames: Sequence[bytes]) -> bool:
        """Send raw frames without blocking; False (and a counted drop) if the queue is full.

        Raises:
            KeyError: no socket called ``socket``.
        """
        return self._send(self._socks[socket], frames)

    def _send(self, sock: OpenSocket, frames: bytes | Sequence[bytes]) -> bool:
        # Copying is faster than zero-copy for frames this small (pyzmq's advice below
        # ~64 kB), and a single frame skips send_multipart's per-frame loop.
        try:
            if isinstance(frames, bytes):
                sock.sync_sock.send(frames, zmq.NOBLOCK)
            else:
                sock.sync_sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            self.sends_dropped += 1
            return False
        finally:
            if sock.duplex:
                sock.after_send()  # a send may eat the receive loop's wake-up
        return True

    async def wait_readable(self, socket: str) -> None:
        """Return once a frame waits on ``socket``.

        Raises:
            KeyError: no socket called ``socket``.
        """
        await self._socks[socket].wait_readable()

    def read_with(self, socket: str, reader: Callable[[], bool] | None) -> None:
        """Have ``reader`` called from ``socket``'s descriptor callback (see
        :meth:`Actor.read_with <gridsup.runtime.actor.Actor.read_with>`); ``None``: stop
        (a closed socket is ignored then). What ``reader`` raises crashes the actor and
        stops the reading.

        Raises:
            KeyError: no socket called ``socket`` (when installing a reader).
        """
        if reader is None:
            sock = self._socks.get(socket)
            if sock is not None:
                sock.read_with(None)
            return
        sock = self._socks[socket]
        crashed = self._crashed

        def guarded() -> bool:
            try:
                return reader()
            except Exception as exc:  # a crash like one in a hook
                sock.read_with(None)
                crashed(exc)
                return False

        sock.read_with(guarded)

    def subscribe(self, socket: str, topic: bytes, on: bool = True) -> None:
        """Start (``on``) or stop receiving ``topic`` on SUB socket ``socket``.

        Raises:
            KeyError: no socket called ``socket``.
        """
        option = zmq.SUBSCRIBE if on else zmq.UNSUBSCRIBE
        self._socks[socket].sync_sock.setsockopt(option, topic)

    def socket(self, name: str) -> zmq.Socket[bytes]:
        """The (synchronous) socket ``name``.

        Raises:
            KeyError: no socket called ``name``.
        """
        return self._socks[name].sync_sock

    def dispatch(self) -> None:
        """From now on, hand what arrives on every socket with a
        :class:`~gridsup.runtime.sockets.Receiver` to its handler."""
        for name, sock in self._socks.items():
            if sock.spec.recv is not None:
                self._dispatch(name, sock)

    def _dispatch(self, name: str, sock: OpenSocket) -> None:
        """Decode ``sock``'s frames from its descriptor's callback and hand each message
        to the socket's handler."""
        receiver = sock.spec.recv
        assert receiver is not None
        decode = receiver.codec.decode
        handler = receiver.handler
        counted = name not in self._uncounted

        def handle(frames: list[bytes]) -> None:
            try:
                message = decode(frames[-1])
            except msgspec.DecodeError as exc:
                self.frames_dropped += 1
                log.warning(
                    "frame_dropped",
                    actor=self._actor(),
                    socket=name,
                    error=str(exc),
                    dropped=self.frames_dropped,
                )
                return
            if counted:
                self.messages_received += 1
            if handler(message, frames[:-1]) is not None:
                raise TypeError(
                    f"{self._actor()}: the handler of socket {name!r} returned a value: "
                    "it must be synchronous (spawn() the work that waits)"
                )

        sock_ = sock.sync_sock
        self.read_with(name, lambda: drain(sock_, handle, _BATCH))

    def stop_reading(self) -> None:
        """No more dispatch, nor readers (a socket may be read again with
        :meth:`read_with`)."""
        for sock in self._socks.values():
            sock.read_with(None)

    def close(self, linger_ms: int | None = None) -> None:
        """Close every socket (``linger_ms``: instead of each socket's own linger)."""
        for sock in self._socks.values():
            sock.close(linger_ms)
        self._socks.clear()
