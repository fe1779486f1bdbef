"""Durable first, for the execution actor: what it records goes to the persistence actor,
and what waits for those records (an order's reply, a fill's OrderUpdate) leaves only
once they are acknowledged -- and, after a change to the account, once the account's
state after it is saved too.

:class:`ExecutionCommitter` holds the store link (requests re-sent until acked) and the
outbox (actions released in order by the Acks), and coalesces the account's saves: one
save in flight at a time, each with the records it covers in one WriteBatch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import msgspec
import structlog
import zmq

from gridsup.actors.execution.booking import Booking, Records
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.outbox import Outbox, OutboxEntry, StoreLink
from gridsup.actors.execution.state import EXECUTION_STATE_KEY, encode_ledger, paper_bucket_key
from gridsup.actors.execution.venue import PaperVenue
from gridsup.actors.run_config import PAPER_ACCOUNT_KEY, STORE
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    Ack,
    RecordRetiredIds,
    SaveState,
    StoreMessage,
    StoreReply,
    StoreRequest,
)
from gridsup.runtime.sockets import drain

log = structlog.get_logger("gridsup.actors.execution")

# Store replies read in one go before the rest of the loop runs (before Ready, on_stop).
_READ_BATCH = 256


class ExecutionCommitter:
    """Records to the store, and the actions that wait for them (see the module
    docstring). ``send_store`` sends one message on the STORE socket; ``emit`` sends the
    actions that are free to leave (replies and order updates).

    Set at start: :attr:`epoch` (the actor's; it names the saves), :attr:`booking`
    (whose moved positions are saved with the ledger) and, in dry-run, :attr:`paper`
    (the paper account whose snapshots are saved).
    """

    def __init__(
        self,
        budgets: Budgets,
        *,
        dry_run: bool,
        timeout: float,
        send_store: Callable[[StoreMessage], object],
        emit: Callable[[Iterable[OutboxEntry]], None],
    ) -> None:
        self.budgets = budgets
        self.dry_run = dry_run
        self.link = StoreLink(send_store, timeout)
        self.outbox = Outbox()
        self._emit = emit
        self.epoch = 0
        self.booking: Booking | None = None
        self.paper: PaperVenue | None = None
        self.paper_version = 0
        self.ledger_version = 0
        self._paper_dirty = False
        self._ledger_dirty = False
        self._saves_in_flight: set[str] = set()
        self._paper_saves: set[str] = set()  # of those, the paper account's parts
        self._held: list[StoreRequest] = []  # records waiting for their snapshot

    @property
    def busy(self) -> bool:
        """Records unacknowledged, or actions still waiting for them."""
        return bool(len(self.outbox) or self.link.pending)

    def commit(
        self, requests: list[StoreRequest], actions: list[OutboxEntry], flush: bool = False
    ) -> None:
        """Send ``requests`` to the store; ``actions`` leave once they are acknowledged
        (and, with ``flush``, once the account state after them is saved too).

        In dry-run, the records of a paper-account change are held back and sent right
        *behind* the snapshot that contains the change, in the same WriteBatch (see
        :meth:`_flush`), so they are stored in the snapshot's transaction: the database
        never holds a fill that the restored paper account does not know — that fill
        would un-happen, and its trade id be reused. (Should the store refuse one
        request of the batch for its data, it stores the rest one by one, in order:
        the snapshot still goes first; a snapshot whose records are missing is
        re-recorded at the next start.) Otherwise several requests go as one batch too.
        """
        if self.booking is not None and self.booking.ledger_changed:
            self._ledger_dirty, self.booking.ledger_changed = True, False
            flush = True
        if flush and self.dry_run:
            self._paper_dirty = True
            self._held.extend(requests)
            ids: list[str] = []
        else:
            ids = self.link.submit_batch(requests)
        self.outbox.push(ids, actions, needs_flush=flush)
        if flush:
            # At once, not on the next loop turn: the save and the records it covers go
            # out together and usually land in one commit. Coalescing comes from the one
            # save in flight (see _flush), not from waiting.
            self._flush()
        self._emit(self.outbox.ready())

    def commit_records(self, records: Records, flush: bool = False) -> None:
        """:meth:`commit` the (requests, actions) of a poll, a stream event or a stop's
        settling, if there are any."""
        if records[0] or records[1]:
            self.commit(*records, flush=flush)

    def reader(self, sock: zmq.Socket[bytes]) -> Callable[[], bool]:
        """A reader of the store's replies on ``sock`` (for ``Actor.read_with``) while
        the runtime does not dispatch them: before Ready, and during on_stop."""

        def handle(frames: list[bytes]) -> None:
            try:
                reply = STORE_REPLY_CODEC.decode(frames[-1])
            except msgspec.DecodeError as exc:  # garbage: logged and dropped
                log.warning("frame_dropped", socket=STORE, error=str(exc))
                return
            self.on_reply(reply)

        return lambda: drain(sock, handle, _READ_BATCH)

    def on_reply(self, reply: StoreReply) -> None:
        """A reply from the store: release what waited for it, and save again if
        changes waited for the save it acknowledges."""
        rid = self.link.on_reply(reply)
        if rid is None:
            return
        self.outbox.acked(rid)
        if rid in self._saves_in_flight:
            self._saves_in_flight.discard(rid)
            if rid in self._paper_saves:
                self._paper_saves.discard(rid)
                if isinstance(reply, Ack) and not reply.ok and self.paper is not None:
                    # The store lacks a part of the account: all of it goes again.
                    self.paper.paper.resplit()
                    self._paper_dirty = True
            if self.outbox.wants_flush:
                self._flush()
        self._emit(self.outbox.ready())

    def _flush(self) -> None:
        """Save the account state once for every change made since the last save, with
        the records held for it: [paper core, its changed buckets, records..., ledger]
        as one WriteBatch, stored in one transaction (one message, one commit on the
        path of a fill).

        One save is in flight at a time: changes made meanwhile wait for the next one,
        so the save rate follows the store's commit rate (group commit, here too).
        """
        if self._saves_in_flight or not self.outbox.wants_flush:
            return
        batch: list[StoreRequest] = []
        saves: list[str] = []
        if self._paper_dirty and self.paper is not None:
            self.paper_version += 1
            # Split (docs/paper.md): the core, and the buckets (orders and trades by
            # symbol) that changed.
            version = self.paper_version
            core, buckets = self.paper.paper.split_snapshot(version)
            paper = [
                SaveState(
                    request_id=f"paper-{self.epoch}-{version}",
                    grid_id=PAPER_ACCOUNT_KEY,
                    version=version,
                    state=core,
                ),
                *(
                    SaveState(
                        request_id=f"paper-{self.epoch}-{version}-{bucket:02d}",
                        grid_id=paper_bucket_key(bucket),
                        version=version,
                        state=data,
                    )
                    for bucket, data in buckets.items()
                ),
            ]
            batch.extend(paper)
            saves.extend(p.request_id for p in paper)
            self._paper_saves.update(p.request_id for p in paper)
            # The ids the account forgot since the last save: into the store in the
            # snapshot's transaction (the snapshot lists them too), then out of memory.
            retired = self.paper.paper.retired.take()
            if retired:
                batch.append(
                    RecordRetiredIds(
                        request_id=f"retired-{self.epoch}-{self.paper_version}",
                        account=PAPER_ACCOUNT_KEY,
                        client_order_ids=retired,
                    )
                )
        batch.extend(self._held)
        self._held.clear()
        if self._ledger_dirty:
            self.ledger_version += 1
            ledger = SaveState(
                request_id=f"ledger-{self.epoch}-{self.ledger_version}",
                grid_id=EXECUTION_STATE_KEY,
                version=self.ledger_version,
                state=encode_ledger(self.budgets),
            )
            batch.append(ledger)
            saves.append(ledger.request_id)
        self._paper_dirty = self._ledger_dirty = False
        ids = self.link.submit_batch(batch)
        self._saves_in_flight.update(saves)
        self.outbox.flushed(ids)
        self._emit(self.outbox.ready())

    async def drained(self, within: float | None = None, poll: float = 0.01) -> None:
        """Return once nothing waits for the store any more (re-sending what is due
        meanwhile), or after ``within`` seconds."""
        deadline = None if within is None else time.monotonic() + within
        while self.busy and (deadline is None or time.monotonic() < deadline):
            await asyncio.sleep(poll)
            self.link.resend_due()

    async def resend_loop(self, timeout: float) -> None:
        """Re-send what the store has not acknowledged after ``timeout`` (run as an
        actor task)."""
        while True:
            await asyncio.sleep(timeout / 4)
            self.link.resend_due()
