"""Requests over one DEALER socket, replies matched by ``request_id``.

Every request on the store and orders channels is idempotent at the receiver (states by
version, orders by client id, fills and events by their keys), so the cure for a lost
request or reply -- a peer restarted, a pipe dropped -- is simply to send it again: a
request unanswered after ``timeout`` seconds is re-sent, for as long as it takes. An
unknown outcome stays unknown until the peer answers (never a guess from a timeout).

The runtime's dispatch is not used for these sockets (their spec has no ``recv``
codec): :meth:`Requester.run` installs a reader of its own on the socket
(:meth:`Actor.read_with`), so replies are handled during ``on_start`` too, before the
actor reports Ready -- from the socket's file-descriptor callback, with no task between
a reply and its future or callback.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import structlog
import zmq

from gridsup.messages.codec import Codec
from gridsup.runtime.actor import Actor
from gridsup.runtime.sockets import drain

log = structlog.get_logger("gridsup.actors.requests")

# Replies taken in one go before the rest of the loop runs (fairness vs. speed).
_BATCH = 256

Reply = TypeVar("Reply")


@dataclass(slots=True)
class _Pending(Generic[Reply]):
    message: Any
    sent_at: float
    future: asyncio.Future[Reply] | None
    callback: Callable[[Reply], None] | None
    attempts: int = 1


class Requester(Generic[Reply]):
    """Send requests on ``socket`` of ``actor`` and route the replies back.

    ``request_id`` values are unique per process: ``<prefix>-<pid>-<n>``.
    """

    def __init__(
        self,
        actor: Actor,
        socket: str,
        codec: Codec[Reply],
        *,
        prefix: str,
        timeout: float = 5.0,
    ) -> None:
        self.actor = actor
        self.socket = socket
        self.codec = codec
        self.timeout = timeout
        self._prefix = f"{prefix}-{os.getpid()}-"
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending[Reply]] = {}
        # A timer at the moment the oldest request falls due, armed only while anything
        # is pending and cancelled with the last reply: requests answered in time cost
        # no wake-up at all. It sets ``_overdue``, which wakes the resend loop.
        self._timer: asyncio.TimerHandle | None = None
        self._overdue = asyncio.Event()
        self.resends = 0
        self.unmatched = 0
        self.undecodable = 0

    def next_id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def resend_armed(self) -> bool:
        """Whether the re-send timer is armed (the loop would wake for it): only while
        requests are pending."""
        return self._timer is not None

    async def request(self, message: Any) -> Reply:
        """Send ``message`` (which carries a fresh ``request_id``) and wait for its reply,
        re-sending it every ``timeout`` seconds until one comes."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._send(message, future, None)
        return await future

    def fire(self, message: Any, callback: Callable[[Reply], None] | None = None) -> None:
        """Send ``message`` without waiting; ``callback`` gets the reply. Re-sent like
        :meth:`request` until answered."""
        self._send(message, None, callback)

    def _send(
        self,
        message: Any,
        future: asyncio.Future[Reply] | None,
        callback: Callable[[Reply], None] | None,
    ) -> None:
        request_id: str = message.request_id
        self._pending[request_id] = _Pending(message, time.monotonic(), future, callback)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.timeout, self._on_timer)
        # A full queue (peer away) is not an error: the resend loop tries again.
        self.actor.send(self.socket, message)

    async def run(self) -> None:
        """Read replies until cancelled (run as an actor task, from ``on_start`` or
        ``on_stop``): installs :meth:`read` as the socket's reader, waits, and removes
        it when cancelled."""
        self.actor.read_with(self.socket, self.read)
        try:
            await asyncio.get_running_loop().create_future()  # forever
        finally:
            self.actor.read_with(self.socket, None)

    def read(self) -> bool:
        """Read the waiting replies (up to a batch; True if more may wait), resolving
        their requests: futures are set, callbacks are called, right here."""
        return drain(self.actor.socket(self.socket), self._on_frames, _BATCH)

    def _on_frames(self, frames: list[bytes]) -> None:
        try:
            reply = self.codec.decode(frames[-1])
        except msgspec.DecodeError as exc:
            self.undecodable += 1
            log.warning("reply_dropped", socket=self.socket, error=str(exc))
            return
        self._resolve(reply)

    def _resolve(self, reply: Reply) -> None:
        request_id: str = reply.request_id  # type: ignore[attr-defined]
        pending = self._pending.pop(request_id, None)
        if pending is None:
            # The answer to a request that was re-sent and already answered.
            self.unmatched += 1
            return
        if not self._pending and self._timer is not None:
            # Nothing left to re-send: a cancelled timer never wakes the loop.
            self._timer.cancel()
            self._timer = None
        if pending.future is not None and not pending.future.done():
            pending.future.set_result(reply)
        if pending.callback is not None:
            pending.callback(reply)

    def _on_timer(self) -> None:
        """The oldest request may be due: wake the resend loop if one is, and arm the
        timer again for the next one to fall due."""
        self._timer = None
        if not self._pending:
            return
        now = time.monotonic()
        # What is due now is re-sent by the loop, so falls due again a timeout from now.
        due = now + self.timeout
        for pending in self._pending.values():
            at = pending.sent_at + self.timeout
            if at <= now:
                self._overdue.set()
            else:
                due = min(due, at)
        self._timer = asyncio.get_running_loop().call_later(due - now, self._on_timer)

    async def resend_loop(self) -> None:
        """Re-send what has waited longer than ``timeout`` (run as an actor task). It
        sleeps until a request is overdue: the timer wakes it, nothing else."""
        while True:
            await self._overdue.wait()
            self._overdue.clear()
            now = time.monotonic()
            for request_id, pending in list(self._pending.items()):
                if pending.future is not None and pending.future.cancelled():
                    del self._pending[request_id]
                    continue
                if now - pending.sent_at < self.timeout:
                    continue
                pending.sent_at = now
                pending.attempts += 1
                self.resends += 1
                log.warning(
                    "request_resent",
                    socket=self.socket,
                    request=type(pending.message).__name__,
                    request_id=request_id,
                    attempts=pending.attempts,
                )
                try:
                    self.actor.send(self.socket, pending.message)
                except zmq.ZMQError as exc:
                    log.warning("request_send_failed", socket=self.socket, error=repr(exc))
