"""Durable first: the execution actor's store requests in flight, and the replies and
updates that wait for them.

:class:`StoreLink` sends store requests, matches the persistence actor's Acks and re-sends
what is not acknowledged within ``timeout`` (every store request is idempotent, so a
re-send after a lost Ack or a restarted persistence actor stores nothing twice). Requests
submitted together (:meth:`StoreLink.submit_batch`) travel as one :class:`WriteBatch`,
stored in one transaction, and are re-sent together the same way; each is still tracked
and acknowledged on its own.

:class:`Outbox` holds what may only leave once records are durable — an order's Ack, the
OrderUpdate of a fill — in the order it was produced. An entry leaves when every store
request it waits for is acknowledged; entries never overtake each other, so sequence
numbers go out without gaps and in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gridsup.messages.store import (
    Ack,
    FindRetiredIds,
    LoadState,
    StoreMessage,
    StoreReply,
    StoreRequest,
    WriteBatch,
    WriteRequest,
)

log = structlog.get_logger("gridsup.actors.execution")

# ("publish", topic, OrderUpdate) or ("reply", envelope, OrderReply)
OutboxEntry = tuple[str, Any, Any]


class StoreLink:
    """Store requests sent and not yet acknowledged (see the module docstring)."""

    def __init__(
        self,
        send: Callable[[StoreMessage], object],
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.timeout = timeout
        self._clock = clock
        self.pending: dict[str, tuple[StoreRequest, float]] = {}
        # The batch each pending request of a submit_batch was sent in (by number).
        self._batch_of: dict[str, int] = {}
        self._batches = 0
        self.loads: dict[str, asyncio.Future[StoreReply]] = {}
        self.resent = 0
        self.refused = 0

    def submit(self, request: StoreRequest) -> str:
        self.pending[request.request_id] = (request, self._clock())
        self._send(request)
        return request.request_id

    def submit_batch(self, requests: Sequence[StoreRequest]) -> list[str]:
        """Send write requests as one :class:`WriteBatch` (stored in one transaction, in
        this order), each tracked like :meth:`submit`; their ids, in order. A single
        request goes alone.

        Raises:
            TypeError: a request is a read (LoadState, FindRetiredIds): reads go through
                :meth:`load`.
        """
        writes = [_write(r) for r in requests]
        if len(writes) == 1:
            return [self.submit(writes[0])]
        if not writes:
            return []
        self._batches += 1
        now = self._clock()
        for request in writes:
            self.pending[request.request_id] = (request, now)
            self._batch_of[request.request_id] = self._batches
        self._send(WriteBatch(requests=writes))
        return [r.request_id for r in writes]

    def on_reply(self, reply: StoreReply) -> str | None:
        """Book a reply; the id of the write it acknowledges (None for anything else)."""
        future = self.loads.pop(reply.request_id, None)
        if future is not None:
            if not future.done():
                future.set_result(reply)
            return None
        entry = self.pending.pop(reply.request_id, None)
        self._batch_of.pop(reply.request_id, None)
        if entry is None:
            return None  # the Ack of a re-send whose first Ack already came
        if isinstance(reply, Ack) and not reply.ok:
            # A request the store can never take (bad data): waiting forever would stall
            # every update behind it, so it is logged as an error and let through.
            self.refused += 1
            log.error("store_request_refused", request_id=reply.request_id, error=reply.error)
        return reply.request_id

    def resend_due(self) -> int:
        """Re-send every request older than ``timeout``; how many were re-sent. What was
        sent as one WriteBatch is re-sent as one again (its unacknowledged requests, in
        their original order), so it still lands in one transaction."""
        now = self._clock()
        due = [rid for rid, (_, sent) in self.pending.items() if now - sent >= self.timeout]
        # pending keeps submission order (a re-send updates in place), so units go out
        # in the order they were first sent, a batch's requests in theirs. A unit is
        # keyed by its batch number, or by its request id when it was sent alone.
        units: dict[int | str, list[StoreRequest]] = {}
        for rid in due:
            request, _ = self.pending[rid]
            self.pending[rid] = (request, now)
            units.setdefault(self._batch_of.get(rid, rid), []).append(request)
        for unit in units.values():
            if len(unit) == 1:
                self._send(unit[0])
            else:
                self._send(WriteBatch(requests=[_write(r) for r in unit]))
        if due:
            self.resent += len(due)
            log.warning("store_requests_resent", count=len(due))
        return len(due)

    async def load(self, request: StoreRequest, attempts: int = 0) -> StoreReply:
        """Send a read and wait for its reply, re-sending every ``timeout`` seconds
        (``attempts`` = 0: forever — without its state the actor must not start).

        Raises:
            TimeoutError: ``attempts`` re-sends went unanswered.
        """
        tries = 0
        while True:
            future: asyncio.Future[StoreReply] = asyncio.get_running_loop().create_future()
            self.loads[request.request_id] = future
            self._send(request)
            try:
                return await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                tries += 1
                log.warning("store_load_retried", request_id=request.request_id, tries=tries)
                if attempts and tries >= attempts:
                    raise
            finally:
                self.loads.pop(request.request_id, None)


def _write(request: StoreRequest) -> WriteRequest:
    if isinstance(request, LoadState | FindRetiredIds):
        raise TypeError(f"a read cannot travel in a WriteBatch: {request.request_id}")
    return request


@dataclass(slots=True)
class Entry:
    waiting: set[str]
    actions: list[OutboxEntry]
    needs_flush: bool = False  # also waits for the next save of the account state


class Outbox:
    """Actions in production order, each leaving once its records are durable.

    The entries waiting for an account save wait for it as a whole (one token per
    save, freed once every request of its batch is acked), not for each of its requests:
    a save carries the records of every change since the last one, so per-request waits
    would cost entries x requests on each save and on its Acks.
    """

    def __init__(self) -> None:
        self._entries: deque[Entry] = deque()
        self._by_request: dict[str, list[Entry]] = {}
        self._flush_waiters: list[Entry] = []
        self._saves = 0
        self._save_of: dict[str, str] = {}  # request id -> the save (token) it belongs to
        self._unacked: dict[str, set[str]] = {}  # save token -> its requests not acked yet

    def push(
        self, waiting: list[str], actions: list[OutboxEntry], needs_flush: bool = False
    ) -> None:
        entry = Entry(set(waiting), actions, needs_flush)
        for rid in waiting:
            self._by_request.setdefault(rid, []).append(entry)
        if needs_flush:
            self._flush_waiters.append(entry)
        self._entries.append(entry)

    @property
    def wants_flush(self) -> bool:
        return bool(self._flush_waiters)

    def flushed(self, request_ids: list[str]) -> None:
        """The account state was just sent as ``request_ids``: the entries waiting for a
        save now wait for all of these to be acked."""
        waiters, self._flush_waiters = self._flush_waiters, []
        for entry in waiters:
            entry.needs_flush = False
        unacked = set(request_ids)
        if not unacked:
            return
        self._saves += 1
        token = f"save#{self._saves}"  # never a request id: those have no '#'
        self._unacked[token] = unacked
        for rid in unacked:
            self._save_of[rid] = token
        for entry in waiters:
            entry.waiting.add(token)
        self._by_request[token] = waiters

    def acked(self, request_id: str) -> None:
        for entry in self._by_request.pop(request_id, ()):
            entry.waiting.discard(request_id)
        token = self._save_of.pop(request_id, None)
        if token is not None:
            unacked = self._unacked[token]
            unacked.discard(request_id)
            if not unacked:
                del self._unacked[token]
                self.acked(token)

    def ready(self) -> Iterator[OutboxEntry]:
        """The actions now free to leave, in order."""
        while self._entries:
            head = self._entries[0]
            if head.waiting or head.needs_flush:
                return
            self._entries.popleft()
            yield from head.actions

    def __len__(self) -> int:
        return len(self._entries)
