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
Same statements, same transactions, same thread: only the trips are fewer.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL

# (description, rowcount, lastrowid, rows) of one statement.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(db: aiosqlite.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """One statement, on the connection's thread: execute, fetch every row, close."""
    cursor = db._conn.cursor()
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
        outcome = await self._conn._execute(_run, self._conn, sql, parameters, many)
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

    @contextmanager
    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def _idle(self) -> bool:
        # sqlite3_get_autocommit: a plain read, safe from any thread.
        return self._connection is not None and not self._connection.in_transaction

    async def commit(self) -> None:
        if not self._idle():
            await super().commit()

    async def rollback(self) -> None:
        if not self._idle():
            await super().rollback()


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
        conn = OneTripConnection(connector, iter_chunk_size=64)
        conn._thread.daemon = True  # as SQLAlchemy's dialect does: never block the exit
        return await conn

    return creator
