"""SQLite connections that cross to aiosqlite's thread once per statement.

aiosqlite runs each call on its connection's own thread, and every crossing costs the
event loop a wake-up (the thread's queue, then ``call_soon_threadsafe`` back): about as
much CPU as the statement itself. SQLAlchemy's aiosqlite adapter makes four crossings per
statement (open a cursor, execute, fetch the rows, close the cursor), and one more for
the ``COMMIT`` and the ``ROLLBACK`` of a connection returned to the pool, even when no
transaction is open. :class:`OneTripConnection` is aiosqlite's ``Connection`` whose
cursor does all of a statement's work in one crossing (a fresh sqlite3 cursor, execute,
fetch every row, close; the rows then wait in the cursor, as the adapter's own buffer
keeps them), and whose ``commit``/``rollback`` stay on the loop when SQLite says no
transaction is open, which is exactly when sqlite3 itself would do nothing.
:func:`run_in_one_trip` goes further for a group commit: all its statements (and its
COMMIT) in one trip, on a sync SQLAlchemy connection lent the thread's sqlite3
connection inside the same transaction. Same statements, same transactions, same
thread: only the trips are fewer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite
from aiosqlite.context import contextmanager
from sqlalchemy import create_engine
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

T = TypeVar("T")

# (description, rowcount, lastrowid, rows) of one statement.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(db: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """One statement, on the connection's thread: execute, fetch every row, close."""
    cursor = db.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor:
    """The part of aiosqlite's ``Cursor`` SQLAlchemy's adapter uses, one trip per
    statement: the rows of the last statement are fetched with it."""

    arraysize = 1

    def __init__(self, conn: OneTripConnection) -> None:
        self._conn = conn
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, sql: str, parameters: Any, many: bool) -> OneTripCursor:
        outcome = await self._conn.run_statement(sql, parameters, many)
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        return await self._run(sql, () if parameters is None else parameters, False)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> OneTripCursor:
        return await self._run(sql, parameters, True)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while self._rows:
            yield self._rows.popleft()


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection with :class:`OneTripCursor` cursors, and no trip for a
    commit or rollback with no transaction open."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True  # as SQLAlchemy's dialect does: never block the exit

    @contextmanager
    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def _idle(self) -> bool:
        # sqlite3_get_autocommit: a plain read, safe from any thread.
        return self._connection is not None and not self._connection.in_transaction

    async def lend(self, work: Callable[[Connection], T], *, commit: bool = False) -> T:
        """``work(connection)`` in one trip: on this thread, with a sync SQLAlchemy
        connection lent this sqlite3 connection, inside its transaction; then, with
        ``commit``, that transaction's COMMIT in the same trip."""
        return await self._execute(_lent_run, self._conn, work, commit)

    async def run_statement(self, sql: str, parameters: Any, many: bool) -> _Outcome:
        """(description, rowcount, lastrowid, rows) of one statement, in one trip."""
        return await self._execute(_run, self._conn, sql, parameters, many)

    async def close(self) -> None:
        if self._running and self._connection is not None:
            await self._execute(_give_back)
        await super().close()

    async def commit(self) -> None:
        if not self._idle():
            await super().commit()

    async def rollback(self) -> None:
        if not self._idle():
            await super().rollback()


async def run_in_one_trip(
    conn: AsyncConnection, work: Callable[[Connection], T], *, commit: bool = False
) -> T:
    """``work(sync_connection)`` inside ``conn``'s transaction, all its statements in one
    go: on a :class:`OneTripConnection`, in one trip to its thread; on any other driver
    (asyncpg), in one ``run_sync`` (one greenlet for every statement).

    ``commit``: the caller commits right after, so on SQLite the COMMIT is done in the
    same trip, and the caller's then finds no transaction open and stays on the loop;
    elsewhere the caller's COMMIT is the one. Either way, ``work`` is durable when the
    caller's commit returns, and a failed COMMIT raises from one or the other.
    """
    if conn.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        if isinstance(driver, OneTripConnection):
            return await driver.lend(work, commit=commit)
    return await conn.run_sync(work)


class _Lent:
    """A sqlite3 connection lent to a sync SQLAlchemy connection for one trip: the
    transaction stays its owner's (the async session's), so commit, rollback and close
    do nothing here."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def cursor(self, *args: Any) -> sqlite3.Cursor:
        return self._conn.cursor(*args)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


# Per aiosqlite thread (each sqlite3 connection has its own): the sqlite3 connection
# being lent, and the sync connection lent it, made once and kept for the thread's life.
_lending = threading.local()


def _lent() -> _Lent:
    lent: _Lent = _lending.db
    return lent


# Makes the sync connection over the sqlite3 connection being lent on this thread; never
# given back to a pool (NullPool, no reset: the owner's transaction must survive it).
_LENDER = create_engine("sqlite://", creator=_lent, poolclass=NullPool, pool_reset_on_return=None)


def _lent_run(db: sqlite3.Connection, work: Callable[[Connection], T], commit: bool) -> T:
    """On ``db``'s thread: ``work`` on the sync connection lent ``db``, then (``commit``)
    ``db``'s COMMIT."""
    conn: Connection | None = getattr(_lending, "conn", None)
    if conn is None or _lending.raw is not db:
        _lending.raw, _lending.db = db, _Lent(db)
        conn = _lending.conn = _LENDER.connect()
    try:
        done = work(conn)
        if commit:
            _commit(db)
        return done
    finally:
        # Ends SQLAlchemy's own bookkeeping of the transaction; the sqlite3 one is the
        # owner's to commit or roll back (_Lent.rollback does nothing).
        conn.rollback()


def _commit(db: sqlite3.Connection) -> None:
    """``db``'s COMMIT; a failure raised as SQLAlchemy raises it on its own COMMIT (an
    ``OperationalError`` for a busy or failing disk), so callers tell it apart as before.
    """
    try:
        db.commit()
    except sqlite3.Error as exc:
        raise DBAPIError.instance("COMMIT", None, exc, sqlite3.Error) from exc


def _give_back() -> None:
    """On a closing connection's thread: close the sync connection lent it, if any."""
    conn: Connection | None = getattr(_lending, "conn", None)
    if conn is not None:
        _lending.conn = None
        conn.close()


def one_trip_creator(url: URL, connect_args: dict[str, Any]) -> Any:
    """An ``async_creator`` for ``create_async_engine``: connects to the SQLite file of
    ``url`` with the arguments SQLAlchemy's aiosqlite dialect would pass, plus
    ``connect_args``."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(url)
    kwargs = {**kwargs, **connect_args}
    [database] = args

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    async def creator() -> aiosqlite.Connection:
        return await OneTripConnection(connector)

    return creator
