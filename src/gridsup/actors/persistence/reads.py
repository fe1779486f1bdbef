"""The persistence actor's reads: a grid's state (with the claim of its lease, for the
incarnation that starts), the paper account's retired client ids, and the save counter
of a grid's stored state (for the idempotency of saves).

Each answer is the reply to send: a failure the request's data explains is an
``Ack(ok=False)`` naming it (never "no state" for a state that cannot be read: the grid
would start over), while :class:`~gridsup.store.errors.DatabaseUnavailable` is raised
(nothing was read; the actor retries the whole commit).
"""

from __future__ import annotations

import socket

import structlog

from gridsup.actors.persistence.records import decode_state
from gridsup.messages.store import (
    Ack,
    FindRetiredIds,
    LoadState,
    RetiredIdsFound,
    StateLoaded,
    StoreReply,
)
from gridsup.store import leases, pauses
from gridsup.store.database import Database
from gridsup.store.errors import DatabaseUnavailable, StoreError
from gridsup.store.retired_ids import RetiredIdLog
from gridsup.store.state import DatabaseStateStore

HOST = socket.gethostname()
log = structlog.get_logger("gridsup.actors.persistence")


class StoreReads:
    """Reads of ``db`` for the store channel; ``member`` owns the leases it claims (the
    cluster member's name, else this host's)."""

    def __init__(self, db: Database, states: DatabaseStateStore, member: str | None) -> None:
        self.db = db
        self.states = states
        self.owner = member or HOST

    async def load(self, msg: LoadState) -> tuple[StoreReply, tuple[int, int] | None]:
        """The answer to ``msg``, and for a claim, the (epoch, save counter) its state is
        at now (the saves of the claiming incarnation are checked against it).

        Raises:
            DatabaseUnavailable: the database is away.
        """
        try:
            epoch, paused = await self._claim(msg.grid_id) if msg.claim else (0, False)
            saved = await self.states.load(msg.grid_id)
            if saved is None:
                reply = StateLoaded(
                    request_id=msg.request_id,
                    grid_id=msg.grid_id,
                    version=0,
                    epoch=epoch,
                    paused=paused,
                )
                return reply, (epoch, 0) if msg.claim else None
            version, data = decode_state(saved)
        except DatabaseUnavailable:
            raise
        except (StoreError, ValueError) as exc:
            # Never answer "no state" for a state we cannot read: the grid would start over.
            log.error("state_load_failed", grid_id=msg.grid_id, error=repr(exc))
            return Ack(request_id=msg.request_id, ok=False, error=repr(exc)), None
        reply = StateLoaded(
            request_id=msg.request_id,
            grid_id=msg.grid_id,
            version=version,
            state=data,
            epoch=epoch,
            paused=paused,
        )
        return reply, (epoch, version) if msg.claim else None

    async def find_retired(self, msg: FindRetiredIds) -> StoreReply:
        """Which of the asked ids the account retired, and its floors when asked.

        Raises:
            DatabaseUnavailable: the database is away.
        """
        try:
            async with self.db.session() as session:
                retired_log = RetiredIdLog(session)
                found = await retired_log.find(msg.account, msg.client_order_ids)
                floors = await retired_log.floors(msg.account) if msg.floors else {}
        except DatabaseUnavailable:
            raise
        except StoreError as exc:
            log.error("retired_ids_lookup_failed", account=msg.account, error=repr(exc))
            return Ack(request_id=msg.request_id, ok=False, error=repr(exc))
        return RetiredIdsFound(
            request_id=msg.request_id,
            retired=[cid for cid in msg.client_order_ids if cid in found],
            floors=floors,
        )

    async def stored_version(self, grid_id: str) -> tuple[int, int]:
        """The (epoch, save counter) of the grid's stored state; (epoch, 0) or (0, 0)
        for a state this code cannot read (the next save replaces it).

        Raises:
            DatabaseUnavailable: the database is away.
        """
        try:
            saved = await self.states.load_with_epoch(grid_id)
        except DatabaseUnavailable:
            raise
        except StoreError as exc:  # a state this code cannot migrate: the next save replaces it
            log.warning("state_unreadable", grid_id=grid_id, error=repr(exc))
            return 0, 0
        if saved is None:
            return 0, 0
        state, epoch = saved
        try:
            return epoch, decode_state(state)[0]
        except ValueError as exc:
            log.warning("state_unreadable", grid_id=grid_id, error=str(exc))
            return epoch, 0

    async def _claim(self, grid_id: str) -> tuple[int, bool]:
        """Take the grid's lease for the incarnation that asks (it holds the grid's lock):
        a new fencing epoch, stamped on the stored state too (see ``store/leases.py``);
        and whether the grid is paused on request (``store/pauses.py``)."""
        async with self.db.session() as session:
            epoch = await leases.claim(session, grid_id, self.owner, HOST)
            paused = await pauses.is_paused(session, grid_id)
        log.info(
            "grid_lease_claimed", grid_id=grid_id, epoch=epoch, owner=self.owner, paused=paused
        )
        return epoch, paused
