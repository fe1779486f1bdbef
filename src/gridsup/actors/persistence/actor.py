"""The persistence actor: the only process that writes to the database.

ROUTER (bind STORE) <- DEALERs of the strategy and execution actors. Requests are queued
as they arrive; one writer task drains everything queued, stores it with
:meth:`StoreWriter.write_requests` in one transaction (group commit) and only then answers
each request with an :class:`Ack` — so an Ack always means "durable". A
:class:`WriteBatch` is queued as one unit, and a commit takes whole units only: its
requests are stored in the same transaction, in their order (a snapshot and the records
it covers land together), and each is acked on its own. Every request is
idempotent: a fill already stored (exchange, symbol, trade id), an order event already
logged (event id), a booked cycle already stored (exchange, grid, close order id) — the
store's insert tells, in the same transaction — or a state whose save counter is not
newer than the stored one (cached per grid) is answered ``Ack(duplicate=True)`` and not
written again. The reads, :class:`LoadState` (answered with :class:`StateLoaded`) and
:class:`FindRetiredIds` (:class:`RetiredIdsFound`), are answered after the writes queued
before them, so a reader sees its own writes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import assert_never

import structlog

from gridsup.actors.persistence.reads import StoreReads
from gridsup.actors.persistence.records import request_records
from gridsup.actors.run_config import STORE, RunConfig
from gridsup.messages import telemetry
from gridsup.messages.control import StatusValue
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    FindRetiredIds,
    LoadState,
    RecordFill,
    RecordOrderEvent,
    RecordRetiredIds,
    RecordTrade,
    SaveState,
    StoreMessage,
    StoreReply,
    StoreRequest,
    WriteBatch,
)
from gridsup.runtime.actor import Actor, StopReason
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType
from gridsup.store.database import Database
from gridsup.store.errors import DatabaseUnavailable, StateFenced, StoreError
from gridsup.store.migrate import upgrade
from gridsup.store.records import StoreWrite
from gridsup.store.state import DatabaseStateStore
from gridsup.store.writer import StoreWriter

log = structlog.get_logger("gridsup.actors.persistence")

# Most requests stored in one transaction; the rest wait for the next commit. A commit
# takes whole units (one request, or the requests of one WriteBatch): it stops before a
# unit that would pass the limit, but always takes at least one, so a WriteBatch larger
# than MAX_BATCH is committed alone, whole.
MAX_BATCH = 2000
# Backoff while the database is away (seconds): requests stay queued, nothing is acked.
RETRY_BASE, RETRY_MAX = 0.1, 2.0

Envelope = list[bytes]
# Requests that must be stored in the same transaction: one request, or a WriteBatch's.
Unit = list[tuple[Envelope, StoreRequest]]
# A request to write, with the store records it becomes.
Write = tuple[Envelope, StoreRequest, list[StoreWrite]]


class PersistenceActor(Actor):
    """Group-committing, idempotent writer of states, order events and fills."""

    def __init__(self, run: RunConfig, *, schema: str | None = None, migrate: bool = False):
        super().__init__()
        self.config = run
        # A cluster member's transactions end as its lock sessions do when it falls silent.
        self.db = Database(run.db_url, schema=schema, idle_in_transaction_s=run.lock_idle_timeout_s)
        self.migrate = migrate
        self.writer = StoreWriter(self.db)
        self.states = DatabaseStateStore(self.db)
        self.reads = StoreReads(self.db, self.states, run.member)
        self._queue: deque[Unit] = deque()
        self._queued = 0  # requests in _queue
        self._wake = asyncio.Event()
        # (fencing epoch, save counter) of each grid's stored state (persistence is the
        # only writer on this host, so this stays true; across cluster members the
        # database's epoch check is the last word); filled lazily from the database.
        self._versions: dict[str, tuple[int, int]] = {}
        self.fenced = 0
        self.batches = 0
        self.written = 0
        self.duplicates = 0
        self.failures = 0
        self.last_batch = 0
        self.db_retries = 0
        self.committing = 0  # requests of the batch being committed now
        self.write_s = 0.0  # time spent in successful commits (metrics: write latency)
        self.db_failing = False  # the last commit attempt failed (alert: database)

    def sockets(self) -> Sequence[SocketSpec]:
        assert self.run_dir is not None
        return (
            SocketSpec(
                STORE,
                SocketType.ROUTER,
                self.run_dir.endpoint(STORE),
                bind=True,
                recv=Receiver(STORE_REQUEST_CODEC, self.on_store_request),
                send=STORE_REPLY_CODEC,
                # A ROUTER drops (silently) what passes a peer's high-water mark: keep
                # room for the Acks of a whole burst, senders would re-send otherwise.
                sndhwm=100_000,
                rcvhwm=100_000,
            ),
        )

    async def on_start(self) -> None:
        await self.db.connect()
        if self.migrate:
            revision = await upgrade(self.db)
            log.info("database_migrated", revision=revision)
        self.spawn(self._write_loop())
        log.info("persistence_started", database=self.db.safe_url)

    def on_store_request(self, message: StoreMessage, envelope: list[bytes]) -> None:
        """STORE's handler: queue the request (a WriteBatch as one unit) for the writer;
        ``envelope`` (the sender's ROUTER identity) is where its reply goes."""
        unit: Unit
        match message:
            case WriteBatch(requests=requests):
                unit = [(envelope, request) for request in requests]
            case (
                SaveState()
                | RecordOrderEvent()
                | RecordFill()
                | RecordTrade()
                | RecordRetiredIds()
                | LoadState()
                | FindRetiredIds()
            ):
                unit = [(envelope, message)]
            case _:
                assert_never(message)
        if not unit:
            return  # an empty WriteBatch: nothing to store, nothing to answer
        self._queue.append(unit)
        self._queued += len(unit)
        self._wake.set()

    async def on_stop(self, reason: StopReason) -> None:
        # What was received is still stored and acknowledged (a clean stop loses nothing).
        while self._queue:
            await self._commit_next()
        await self.db.disconnect()

    def status(self) -> dict[str, StatusValue]:
        return {
            "queued": self._queued,
            "committing": self.committing,
            "batches": self.batches,
            "written": self.written,
            "duplicates": self.duplicates,
            "fenced": self.fenced,
            "failures": self.failures,
            "last_batch": self.last_batch,
            "db_retries": self.db_retries,
            telemetry.WRITE_SECONDS_SUM: round(self.write_s, 6),
            telemetry.WRITE_SECONDS_COUNT: self.batches,
            "db_failing": self.db_failing,
        }

    # -- group commit -------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            # One more loop turn for the receive loop: frames sent together (a record and
            # the save that covers it) then go into the same commit.
            await asyncio.sleep(0)
            self._wake.clear()
            while self._queue:
                await self._commit_next()

    def _take_batch(self) -> list[tuple[Envelope, StoreRequest]]:
        """The next transaction's requests: whole queued units, in arrival order, up to
        MAX_BATCH requests (or one unit, when it alone is larger)."""
        batch: list[tuple[Envelope, StoreRequest]] = []
        while self._queue and (not batch or len(batch) + len(self._queue[0]) <= MAX_BATCH):
            batch.extend(self._queue.popleft())
        self._queued -= len(batch)
        return batch

    async def _commit_next(self) -> None:
        batch = self._take_batch()
        self.committing = len(batch)
        delay = RETRY_BASE
        while True:
            began = time.perf_counter()
            try:
                replies = await self._commit(batch)
                self.write_s += time.perf_counter() - began
                self.db_failing = False
                break
            except Exception as exc:
                self.db_failing = True
                # The database is away (or locked, or failing in a way no request's data
                # explains): nothing was stored and nothing is acked, so senders keep
                # their requests; try the same batch again.
                self.db_retries += 1
                event = "store_commit_retried"
                if isinstance(exc, DatabaseUnavailable):
                    log.warning(event, error=str(exc), delay=delay, size=len(batch))
                else:
                    log.error(event, error=repr(exc), delay=delay, size=len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        for envelope, reply in replies:
            self.send(STORE, reply, envelope=envelope)
        self.committing = 0
        self.batches += 1
        self.last_batch = len(batch)

    async def _commit(
        self, batch: list[tuple[Envelope, StoreRequest]]
    ) -> list[tuple[Envelope, StoreReply]]:
        """Store the writes of ``batch`` in one transaction, then answer the reads.

        Raises:
            DatabaseUnavailable: the database is away; nothing was stored.
        """
        versions = await self._known_versions(batch)
        replies: list[tuple[Envelope, StoreReply]] = []
        writes: list[Write] = []
        loads: list[tuple[Envelope, LoadState | FindRetiredIds]] = []
        for envelope, msg in batch:
            if isinstance(msg, LoadState | FindRetiredIds):
                loads.append((envelope, msg))
            elif isinstance(msg, SaveState) and (fence := self._fence(msg, versions)) is not None:
                replies.append((envelope, fence))
            else:
                if isinstance(msg, SaveState):
                    versions[msg.grid_id] = (msg.epoch, msg.version)
                writes.append((envelope, msg, request_records(msg)))
        replies.extend(await self._write(writes, versions))
        self._versions = versions
        for envelope, load in loads:
            if isinstance(load, FindRetiredIds):
                reply = await self.reads.find_retired(load)
            else:
                reply, known = await self.reads.load(load)
                if known is not None:  # a claim: the new incarnation's saves count from here
                    self._versions[load.grid_id] = known
            if isinstance(reply, Ack) and not reply.ok:
                self.failures += 1
            replies.append((envelope, reply))
        return replies

    def _fence(self, msg: SaveState, versions: dict[str, tuple[int, int]]) -> StoreReply | None:
        """The answer to a save that must not be written: a duplicate of this incarnation
        (same epoch, not a newer version), or a dead incarnation's late save (an older
        epoch than the grid's stored or claimed one: fenced). None: write it."""
        epoch, version = versions.get(msg.grid_id, (0, 0))
        if msg.epoch < epoch:
            self.fenced += 1
            log.warning(
                "state_save_fenced", grid_id=msg.grid_id, epoch=msg.epoch, current_epoch=epoch
            )
            error = f"fenced: epoch {msg.epoch} < current epoch {epoch} of {msg.grid_id}"
            return Ack(request_id=msg.request_id, ok=False, error=error)
        if msg.epoch == epoch and msg.version <= version:
            self.duplicates += 1
            return Ack(request_id=msg.request_id, duplicate=True)
        return None

    async def _known_versions(
        self, batch: list[tuple[Envelope, StoreRequest]]
    ) -> dict[str, tuple[int, int]]:
        """A copy of the (epoch, save counter) pairs, read from the database for the
        grids of the batch's SaveStates not seen yet (once per grid and actor life)."""
        for _, m in batch:
            if isinstance(m, SaveState) and m.grid_id not in self._versions:
                self._versions[m.grid_id] = await self.reads.stored_version(m.grid_id)
        return dict(self._versions)

    async def _write(
        self, writes: list[Write], versions: dict[str, tuple[int, int]]
    ) -> list[tuple[Envelope, StoreReply]]:
        """Store ``writes`` in one transaction: the store's keyed inserts tell which were
        stored before (``Ack(duplicate=True)``), so no lookup precedes the write."""
        if not writes:
            return []
        try:
            stored = await self.writer.write_requests([records for _, _, records in writes])
        except DatabaseUnavailable:
            raise
        except (StoreError, TypeError, ValueError) as exc:
            # One bad record fails the whole transaction: store the others one by one
            # so that only the bad request is refused.
            log.warning("store_batch_failed", error=repr(exc), size=len(writes))
            return [await self._write_one(write, versions) for write in writes]
        return [
            self._ack(envelope, msg, new)
            for (envelope, msg, _), new in zip(writes, stored, strict=True)
        ]

    async def _write_one(
        self, write: Write, versions: dict[str, tuple[int, int]]
    ) -> tuple[Envelope, StoreReply]:
        envelope, msg, records = write
        try:
            [new] = await self.writer.write_requests([records])
        except DatabaseUnavailable:
            raise
        except (StoreError, TypeError, ValueError) as exc:
            self.failures += 1
            log.error("store_request_refused", request_id=msg.request_id, error=repr(exc))
            if isinstance(msg, SaveState):
                versions.pop(msg.grid_id, None)  # re-read: it was not stored
            if isinstance(exc, StateFenced):  # a newer incarnation claimed it elsewhere
                self.fenced += 1
                return envelope, Ack(request_id=msg.request_id, ok=False, error=f"fenced: {exc}")
            return envelope, Ack(request_id=msg.request_id, ok=False, error=repr(exc))
        return self._ack(envelope, msg, new)

    def _ack(self, envelope: Envelope, msg: StoreRequest, new: bool) -> tuple[Envelope, StoreReply]:
        if new:
            self.written += 1
            return envelope, Ack(request_id=msg.request_id)
        self.duplicates += 1
        return envelope, Ack(request_id=msg.request_id, duplicate=True)


def build(run: RunConfig, *, schema: str | None = None, migrate: bool = False) -> PersistenceActor:
    """The persistence actor of ``run``
    (ChildSpec target ``gridsup.actors.persistence.actor:build``).

    ``schema`` puts the tables in that PostgreSQL schema (tests, benchmarks);
    ``migrate`` runs the Alembic migrations at start (``gridsup start`` does it before).
    """
    return PersistenceActor(run, schema=schema, migrate=migrate)
