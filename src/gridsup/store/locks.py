"""Grid locks: at most one live actor per grid (invariant 1).

A grid's actor holds its lock for its whole life; a second copy's ``acquire()`` returns
False and it must refuse to start. ``gridsup start`` takes and gives back every lock
before it spawns anything (a held one: the grid runs elsewhere). The lock dies with its
holder, however it dies:

* :class:`AsyncpgAdvisoryLock`: ``pg_try_advisory_lock`` on a raw asyncpg connection
  kept open for the lock's life; the server releases it when the session ends, so a
  killed process (or a dropped connection) frees the grid for a standby host.
* :class:`FileGridLock`: an OS file lock (flock) on ``<db file>.locks/<grid>.lock`` next
  to a SQLite database; the kernel releases it when the holder exits.

This is the only module that takes PostgreSQL session advisory locks, and the one that
names advisory-lock keys (``gridsup db upgrade``'s transaction lock takes its key from
:func:`namespaced_key`). It does not import SQLAlchemy: strategy actors take their
grid's lock here, and hundreds of them share one machine.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit, urlunsplit

import structlog
from filelock import FileLock, Timeout

from gridsup.store.paths import data_dir

if TYPE_CHECKING:
    import asyncpg

log = structlog.get_logger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Where the locks of an in-memory SQLite database go (it has no file to sit next to).
_MEMORY_DB = "memory.db"


class LockUrlError(ValueError):
    """A database URL a grid lock cannot use; the message never shows a password."""


class LockUnavailable(ConnectionError):
    """The lock's server could not be asked (PostgreSQL down or refusing us)."""


@runtime_checkable
class GridLock(Protocol):
    """An exclusive, non-blocking lock on one grid."""

    grid_id: str

    @property
    def held(self) -> bool: ...

    async def acquire(self) -> bool:
        """Take the lock if it is free; False when another holder has it."""
        ...

    async def check(self) -> bool:
        """True while the lock is still ours (a holder polls it to learn of a loss)."""
        ...

    async def release(self) -> None:
        """Give the lock back (a no-op when not held)."""
        ...


def namespaced_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name`` in gridsup's namespace (so another
    application's advisory locks on the same server do not collide with ours)."""
    digest = hashlib.blake2b(f"gridsup:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def advisory_key(grid_id: str) -> int:
    """The signed 64-bit advisory-lock key of a grid."""
    return namespaced_key(f"grid:{grid_id}")


def lock_file_for(db_file: Path, grid_id: str) -> Path:
    """``<db file>.locks/<grid>.lock`` (a digest when the grid id is not file-safe)."""
    name = grid_id if _SAFE_NAME.match(grid_id) else hashlib.sha256(grid_id.encode()).hexdigest()
    return db_file.parent / f"{db_file.name}.locks" / f"{name}.lock"


def file_grid_lock(db_file: Path | None, grid_id: str) -> FileGridLock:
    """The file lock of ``grid_id`` next to ``db_file`` (None: an in-memory database,
    whose locks live in the data directory)."""
    return FileGridLock(lock_file_for(db_file or data_dir() / _MEMORY_DB, grid_id), grid_id)


class FileGridLock:
    """OS file lock; never falls back to a "soft" lock that would outlive its holder."""

    def __init__(self, path: Path, grid_id: str) -> None:
        self.path = path
        self.grid_id = grid_id
        self._lock = FileLock(path, thread_local=False, fallback_to_soft=False)

    def __repr__(self) -> str:
        return f"<FileGridLock {self.path} held={self.held}>"

    @property
    def held(self) -> bool:
        return bool(self._lock.is_locked)

    async def acquire(self) -> bool:
        """Raises:
        OSError: the lock directory cannot be created or the file opened.
        """
        if self.held:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            log.warning("grid_lock_refused", grid=self.grid_id, kind="file", path=str(self.path))
            return False
        log.info("grid_lock_acquired", grid=self.grid_id, kind="file", path=str(self.path))
        return True

    async def check(self) -> bool:
        # The kernel keeps a flock for as long as we hold the descriptor.
        return self.held

    async def release(self) -> None:
        if self.held:
            self._lock.release(force=True)
            log.info("grid_lock_released", grid=self.grid_id, kind="file")


def _session_errors() -> tuple[type[BaseException], ...]:
    """What a dead or killed session raises (asyncpg has three families of them)."""
    import asyncpg

    return (
        OSError,
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
    )


class AsyncpgAdvisoryLock:
    """Session-level advisory lock on a raw asyncpg connection dedicated to it."""

    def __init__(
        self,
        dsn: str,
        grid_id: str,
        *,
        timeout: float = 10.0,
        idle_session_timeout_s: float | None = None,
    ) -> None:
        self._dsn = dsn  # may hold a password: never logged, never in repr
        self.grid_id = grid_id
        self.key = advisory_key(grid_id)
        self._timeout = timeout
        # The server ends the lock's session (and so frees the lock) when it has been idle
        # this long: a holder cut off from the database by a partition loses the grid
        # after this, not after TCP's own hours. The holder checks its session more often
        # than this, and stops trading when a check fails (well before this runs out).
        self._server_settings = (
            {"idle_session_timeout": str(int(idle_session_timeout_s * 1000))}
            if idle_session_timeout_s
            else None
        )
        self._conn: asyncpg.Connection | None = None

    def __repr__(self) -> str:
        return f"<AsyncpgAdvisoryLock grid={self.grid_id} held={self.held}>"

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> bool:
        """Raises:
        LockUnavailable: the server could not be reached or refused the connection.
        """
        if self._conn is not None:
            return True
        import asyncpg  # only a PostgreSQL run pays for it

        try:
            conn = await asyncpg.connect(
                self._dsn, timeout=self._timeout, server_settings=self._server_settings
            )
        except _session_errors() as exc:
            log.error("grid_lock_unavailable", grid=self.grid_id, error=type(exc).__name__)
            raise LockUnavailable(
                f"grid {self.grid_id}: PostgreSQL for its lock unreachable ({type(exc).__name__})"
            ) from exc
        try:
            got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except _session_errors() as exc:
            conn.terminate()
            log.error("grid_lock_unavailable", grid=self.grid_id, error=repr(exc))
            raise LockUnavailable(f"grid {self.grid_id}: advisory lock query failed") from exc
        if not got:
            await conn.close()
            log.warning("grid_lock_refused", grid=self.grid_id, kind="postgres")
            return False
        self._conn = conn
        log.info("grid_lock_acquired", grid=self.grid_id, kind="postgres")
        return True

    async def check(self) -> bool:
        """True while the lock's session is alive (so the lock is still ours)."""
        if self._conn is None:
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=self._timeout)
        except _session_errors() as exc:
            log.error("grid_lock_lost", grid=self.grid_id, error=repr(exc))
            conn, self._conn = self._conn, None
            conn.terminate()
            return False
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            await conn.fetchval("SELECT pg_advisory_unlock($1)", self.key)
            await conn.close(timeout=self._timeout)
        except _session_errors() as exc:
            # The session is gone, and with it the lock: nothing left to unlock.
            log.warning("grid_lock_unlock_failed", grid=self.grid_id, error=repr(exc))
            conn.terminate()
        log.info("grid_lock_released", grid=self.grid_id, kind="postgres")


def _scheme(url: str) -> tuple[str, str]:
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise LockUrlError("database URL has no scheme (want sqlite:// or postgresql://)")
    backend, _, driver = scheme.partition("+")
    return backend.lower(), driver.lower()


def postgres_dsn(url: str) -> str:
    """The libpq DSN asyncpg understands for a SQLAlchemy-style PostgreSQL URL
    (``postgresql+asyncpg://...`` -> ``postgresql://...``)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    _, _, rest = url.partition("://")
    path = unquote(rest.split("?", 1)[0])
    # sqlite:///relative.db and sqlite:////absolute.db: one slash starts the path.
    path = path[1:] if path.startswith("/") else path
    if path in ("", ":memory:"):
        return None
    return Path(path).expanduser()


def grid_lock(
    db_url: str,
    grid_id: str,
    *,
    check_timeout_s: float = 10.0,
    idle_session_timeout_s: float | None = None,
) -> GridLock:
    """The lock of ``grid_id`` for the database at ``db_url``: an advisory lock on
    PostgreSQL, a file next to a SQLite file (in the data directory for in-memory SQLite).

    Raises:
        LockUrlError: the URL names no supported database.
    """
    backend, _ = _scheme(db_url)
    if backend in ("postgresql", "postgres"):
        return AsyncpgAdvisoryLock(
            postgres_dsn(db_url),
            grid_id,
            timeout=check_timeout_s,
            idle_session_timeout_s=idle_session_timeout_s,
        )
    if backend == "sqlite":
        return file_grid_lock(sqlite_file(db_url), grid_id)
    raise LockUrlError(f"unsupported database {backend!r} for a grid lock")
