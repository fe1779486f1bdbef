"""``Database``: the engine, its sessions and what can go wrong reaching it.

SQLite (the embedded default, through aiosqlite) runs in WAL mode with a busy timeout
and foreign keys on; PostgreSQL goes through asyncpg with ``pool_pre_ping``. Engines
and sessions are passed in, never global.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gridsup.store.errors import (
    DatabaseConfigError,
    DatabaseUnavailable,
    RecordRefused,
    StoreError,
)
from gridsup.store.paths import data_dir
from gridsup.store.sqlite_trips import one_trip_creator

log = structlog.get_logger(__name__)

ENV_URL = "GRIDSUP_DB_URL"

# Drivers we run on; a bare backend name gets its async driver.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# SQLSTATEs that mean "the URL is wrong", not "the server is away": unknown database,
# bad password, authorization refused.
_CONFIG_SQLSTATES = {"3D000", "28P01", "28000"}


def default_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'gridsup.db'}"


def resolve_url(url: str | URL | None = None) -> URL:
    """The URL to use: ``url``, else ``$GRIDSUP_DB_URL``, else the SQLite default, with
    the async driver filled in (``postgresql://`` means asyncpg, ``sqlite://`` aiosqlite).

    Raises:
        DatabaseConfigError: the URL is malformed or names an unsupported database or a
            driver that is not async.
    """
    raw = url if url is not None else (os.environ.get(ENV_URL) or default_url())
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        # The raw text may hold a password: never echo it.
        raise DatabaseConfigError(
            "malformed database URL: want DIALECT+DRIVER://..., e.g. "
            "sqlite+aiosqlite:////var/lib/gridsup/gridsup.db or "
            "postgresql+asyncpg://user@host:5432/gridsup"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _ASYNC_DRIVERS:
        raise DatabaseConfigError(
            f"unsupported database {backend!r} in {render_url(parsed)} "
            "(use sqlite+aiosqlite:// or postgresql+asyncpg://)"
        )
    driver = parsed.get_driver_name() if "+" in parsed.drivername else _ASYNC_DRIVERS[backend]
    return parsed.set(drivername=f"{backend}+{driver}")


def render_url(url: str | URL) -> str:
    """``url`` as text with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<malformed URL>"


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL (None for in-memory databases and other engines)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser()


class Database:
    """One database: an async engine, a session factory and a health check.

    ``schema`` puts every unqualified name in that PostgreSQL schema (``search_path``),
    which is how tests and the benchmark get a private, droppable namespace.
    ``idle_in_transaction_s`` has PostgreSQL end a session that sits that long inside a
    transaction without a word: a cluster member cut off mid-transaction must not keep
    its row locks (its grids' lease and state rows) from the member adopting them.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        schema: str | None = None,
        echo: bool = False,
        connect_timeout: float = 10.0,
        busy_timeout_ms: int = 5000,
        pool_size: int = 5,
        idle_in_transaction_s: float | None = None,
    ) -> None:
        self.url = resolve_url(url)
        self._idle_in_transaction_s = idle_in_transaction_s
        self.schema = schema
        self._echo = echo
        self._connect_timeout = connect_timeout
        self._busy_timeout_ms = busy_timeout_ms
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        state = "connected" if self._engine is not None else "disconnected"
        return f"<Database {self.safe_url} {state}>"

    @property
    def safe_url(self) -> str:
        return render_url(self.url)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The connected engine.

        Raises:
            RuntimeError: ``connect()`` was not called.
        """
        if self._engine is None:
            raise RuntimeError(f"{self!r}: call connect() first")
        return self._engine

    async def connect(self) -> None:
        """Create the engine and prove the database answers.

        Raises:
            DatabaseConfigError: the URL cannot work (unknown driver, database, user).
            DatabaseUnavailable: the database did not answer.
        """
        if self._engine is not None:
            return
        engine = self._create_engine()
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, Exception):
                raise self.classify(exc) from exc
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        log.info("database_connected", url=self.safe_url)

    async def disconnect(self) -> None:
        if self._engine is not None:
            engine, self._engine, self._sessions = self._engine, None, None
            await engine.dispose()
            log.info("database_disconnected", url=self.safe_url)

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A transactional scope: commits when the block ends, rolls back on any error.

        Raises:
            DatabaseUnavailable: the connection was lost or refused.
            RecordRefused: the database refused a value written (too long, a constraint).
            RuntimeError: ``connect()`` was not called.
        """
        if self._sessions is None:
            raise RuntimeError(f"{self!r}: call connect() first")
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException as exc:
                await session.rollback()
                if (error := self._store_error(exc)) is exc:
                    raise
                raise error from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """As :meth:`session`, on a Core connection: no ORM session to build, begin and
        close around it (the group commit's way in, whose statements are all Core).

        Raises:
            DatabaseUnavailable: the connection was lost or refused.
            RecordRefused: the database refused a value written (too long, a constraint).
            RuntimeError: ``connect()`` was not called.
        """
        try:
            async with self.engine.begin() as conn:
                yield conn
        except Exception as exc:
            if (error := self._store_error(exc)) is exc:
                raise
            raise error from exc

    def _store_error(self, exc: BaseException) -> BaseException:
        """What a failed transaction raises: ``exc`` itself, or the store's error for it."""
        if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        ):
            # Lost connection, server gone, SQLite busy past its timeout: the
            # transaction did not happen and may be retried.
            return self.classify(exc)
        if isinstance(exc, StatementError) and isinstance(exc.orig, StoreError):
            # A value our column types refused (MoneyRangeError): the caller's bug,
            # reported as itself rather than as an SQL error.
            return exc.orig
        if _refused_value(exc):
            # A value the database refused (too long for its column ...): as above, not
            # a reason to try the same transaction again.
            return RecordRefused(f"database {self.safe_url}: {_first_line(exc)}")
        return exc

    async def health_check(self, timeout: float = 5.0) -> bool:
        """True when a ``SELECT 1`` answers within ``timeout`` seconds; a failure is
        logged (``database_health_check_failed``) and returned, never raised."""
        try:
            async with asyncio.timeout(timeout):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError, RuntimeError) as exc:
            log.warning("database_health_check_failed", url=self.safe_url, error=repr(exc))
            return False
        return True

    def classify(self, exc: BaseException) -> DatabaseConfigError | DatabaseUnavailable:
        """Map a driver error to the store's error naming the (password-free) URL."""
        if isinstance(exc, DatabaseConfigError | DatabaseUnavailable):
            return exc
        if isinstance(exc, NoSuchModuleError | ArgumentError):
            return DatabaseConfigError(f"bad database URL {self.safe_url}: {exc}")
        cause: BaseException | None = exc
        seen: set[int] = set()
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            if getattr(cause, "sqlstate", None) in _CONFIG_SQLSTATES:
                return DatabaseConfigError(
                    f"database {self.safe_url} refused the URL: {_first_line(cause)}"
                )
            cause = cause.__cause__ or cause.__context__
        return DatabaseUnavailable(f"database {self.safe_url} is unavailable: {_first_line(exc)}")

    def _create_engine(self) -> AsyncEngine:
        kwargs: dict[str, Any] = {"echo": self._echo}
        if self.dialect == "sqlite":
            if (path := sqlite_path(self.url)) is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseUnavailable(
                        f"database {self.safe_url} is unavailable: {_first_line(exc)}"
                    ) from None
            # One trip to aiosqlite's thread per statement (see sqlite_trips).
            connect_args = {"timeout": self._busy_timeout_ms / 1000}
            kwargs["async_creator"] = one_trip_creator(self.url, connect_args)
        else:
            server_settings = {"application_name": "gridsup"}
            if self.schema:
                server_settings["search_path"] = self.schema
            if self._idle_in_transaction_s:
                ms = str(int(self._idle_in_transaction_s * 1000))
                server_settings["idle_in_transaction_session_timeout"] = ms
            kwargs.update(
                pool_pre_ping=True,
                pool_size=self._pool_size,
                connect_args={"timeout": self._connect_timeout, "server_settings": server_settings},
            )
        try:
            engine = create_async_engine(self.url, **kwargs)
        except (NoSuchModuleError, ArgumentError, ImportError) as exc:
            raise DatabaseConfigError(f"bad database URL {self.safe_url}: {exc}") from None
        except SQLAlchemyError as exc:
            # e.g. a sync driver: "The asyncio extension requires an async driver".
            raise DatabaseConfigError(f"bad database URL {self.safe_url}: {exc}") from None
        if self.dialect == "sqlite":
            event.listen(engine.sync_engine, "connect", self._sqlite_pragmas)
        return engine

    def _sqlite_pragmas(self, dbapi_connection: Any, _record: Any) -> None:
        # Per connection: WAL lets readers run beside the writer, the busy timeout
        # makes a second writer wait instead of failing, foreign keys are off by default.
        cursor = dbapi_connection.cursor()
        try:
            if sqlite_path(self.url) is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()


def _first_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def _refused_value(exc: BaseException) -> bool:
    """Did the database refuse the data (SQLSTATE class 22 data exception, 23 integrity
    constraint), rather than fail? The asyncpg dialect raises a bare DBAPIError for some
    of these, so the driver's own error (in the cause chain) is asked too."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if str(getattr(cause, "sqlstate", "") or "")[:2] in ("22", "23"):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
