"""SQLite's trips to aiosqlite's thread: one per statement, one per group commit (its
COMMIT included), none for a COMMIT or ROLLBACK with no transaction open; the rows and
the errors are what SQLAlchemy's own aiosqlite cursor gives."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text

from gridsup.store.database import Database
from gridsup.store.errors import DatabaseUnavailable
from gridsup.store.models import Base
from gridsup.store.records import StateRecord, StoreWrite
from gridsup.store.sqlite_trips import run_in_one_trip
from gridsup.store.state import DatabaseStateStore
from gridsup.store.writer import StoreWriter

from .test_writer import event, one_fill, stored


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await db.connect()
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield db
    finally:
        await db.disconnect()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every function run on an aiosqlite thread, in order."""
    seen: list[str] = []
    run = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield seen


def requests(n: int) -> list[list[StoreWrite]]:
    state = [StateRecord(strategy="g1", state={"version": 1, "n": n})]
    return [event(f"e{n}"), one_fill(f"t{n}"), state]


async def test_a_group_commit_is_one_trip_with_its_commit(
    sqlite_db: Database, trips: list[str]
) -> None:
    writer = StoreWriter(sqlite_db)
    await writer.write_requests(requests(1))  # connects, reads the schema
    trips.clear()

    assert await writer.write_requests(requests(2)) == [True, True, True]

    assert trips == ["_lent_run"]
    assert await stored(sqlite_db) == (2, 2, 1)
    assert await DatabaseStateStore(sqlite_db).load("g1") == {"version": 1, "n": 2}


async def test_a_statement_is_one_trip_and_an_idle_commit_none(
    sqlite_db: Database, trips: list[str]
) -> None:
    async with sqlite_db.session() as session:  # warm the pool
        await session.execute(text("SELECT 1"))
    trips.clear()

    async with sqlite_db.session() as session:
        rows = (await session.execute(text("SELECT 1 UNION ALL SELECT 2"))).all()

    assert [tuple(r) for r in rows] == [(1,), (2,)]
    assert trips == ["_run"]  # no trip for the COMMIT (a read opens no transaction)


async def test_a_write_commits_and_reads_back_through_the_cursor(sqlite_db: Database) -> None:
    async with sqlite_db.session() as session:
        await session.execute(text("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)"))
        result = await session.execute(text("INSERT INTO t (b) VALUES ('x'), ('y')"))
        assert result.rowcount == 2
        await session.execute(text("INSERT INTO t (b) VALUES (:b)"), [{"b": "z"}, {"b": "w"}])
    async with sqlite_db.engine.connect() as conn:
        result = await conn.execute(text("SELECT b FROM t ORDER BY a"))
        assert result.fetchone() == ("x",)
        assert result.fetchmany(2) == [("y",), ("z",)]
        assert result.fetchall() == [("w",)]


async def test_a_locked_database_fails_the_trip_and_the_next_one_stores(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    db = Database(f"sqlite+aiosqlite:///{path}", busy_timeout_ms=50)
    await db.connect()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        writer = StoreWriter(db)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            with pytest.raises(DatabaseUnavailable):
                await writer.write_requests(requests(1))
        finally:
            other.execute("ROLLBACK")
            other.close()

        assert await writer.write_requests(requests(1)) == [True, True, True]
        assert await stored(db) == (1, 1, 1)
    finally:
        await db.disconnect()


async def test_work_that_fails_in_the_trip_is_rolled_back(sqlite_db: Database) -> None:
    def half_then_fail(conn: Any) -> None:
        conn.execute(text("INSERT INTO strategy_states (strategy, version, revision, epoch, "
                          "state, created_at, updated_at) VALUES ('g1', 1, 1, 0, '{}', "
                          "'2026-01-01', '2026-01-01')"))  # fmt: skip
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        async with sqlite_db.transaction() as conn:
            await run_in_one_trip(conn, half_then_fail, commit=True)

    assert await DatabaseStateStore(sqlite_db).load("g1") is None
