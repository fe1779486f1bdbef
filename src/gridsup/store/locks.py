"""Grid locks: at most one live actor per grid (invariant 1).

A grid's actor holds its lock for its whole life; a second copy's ``acquire()`` returns
False and it must refuse to start. The lock dies with its holder, however it dies:

* ``PostgresAdvisoryLock``: ``pg_try_advisory_lock`` on a dedicated connection kept open
  for the lock's life. The server releases a session lock when the session ends, so a
  killed process (or a dropped connection) frees the grid for a standby host.
* ``FileGridLock``: an OS file lock (flock) on a file next to the SQLite database; the
  kernel releases it when the holding process exits.
"""

from __future__ import annotations

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gridsup.store.database import Database, sqlite_path

# The Protocol, the key derivation and the file lock live in the SQLAlchemy-free module
# that strategy actors use (so both flavours contend for the same lock); re-exported here.
from gridsup.store.grid_lock_light import FileGridLock, advisory_key, file_grid_lock, lock_file_for
from gridsup.store.grid_lock_light import LightGridLock as GridLock

__all__ = [
    "FileGridLock",
    "GridLock",
    "PostgresAdvisoryLock",
    "advisory_key",
    "grid_lock",
    "lock_file_for",
]

log = structlog.get_logger(__name__)


class PostgresAdvisoryLock:
    """Session-level advisory lock on a connection dedicated to it."""

    def __init__(self, db: Database, grid_id: str) -> None:
        self.db = db
        self.grid_id = grid_id
        self.key = advisory_key(grid_id)
        self._conn: AsyncConnection | None = None

    def __repr__(self) -> str:
        return f"<PostgresAdvisoryLock grid={self.grid_id} held={self.held}>"

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> bool:
        """Raises:
        DatabaseUnavailable: the server could not be asked.
        """
        if self._conn is not None:
            return True
        try:
            conn = await self.db.engine.connect()
            # Autocommit: holding the lock must not hold a transaction open for hours.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(select(func.pg_try_advisory_lock(self.key)))).scalar()
        except SQLAlchemyError as exc:
            raise self.db.classify(exc) from exc
        if not got:
            await conn.close()
            log.warning("grid_lock_refused", grid=self.grid_id, kind="postgres")
            return False
        self._conn = conn
        log.info("grid_lock_acquired", grid=self.grid_id, kind="postgres")
        return True

    async def check(self) -> bool:
        """True while the lock's connection is alive (so the lock is still ours)."""
        if self._conn is None:
            return False
        try:
            await self._conn.execute(select(1))
        except SQLAlchemyError as exc:
            log.error("grid_lock_lost", grid=self.grid_id, error=repr(exc))
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute(select(func.pg_advisory_unlock(self.key)))
        except SQLAlchemyError as exc:
            # The session is gone, and with it the lock: nothing left to unlock.
            log.warning("grid_lock_unlock_failed", grid=self.grid_id, error=repr(exc))
        await self._drop()
        log.info("grid_lock_released", grid=self.grid_id, kind="postgres")

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Close the physical connection rather than pool it: a pooled session could
            # otherwise keep a lock we failed to unlock.
            await conn.invalidate()
            await conn.close()


def grid_lock(db: Database, grid_id: str) -> GridLock:
    """The right lock for ``db``: advisory on PostgreSQL, a file next to SQLite (in the
    data directory for an in-memory SQLite database)."""
    if db.dialect == "postgresql":
        return PostgresAdvisoryLock(db, grid_id)
    return file_grid_lock(sqlite_path(db.url), grid_id)
