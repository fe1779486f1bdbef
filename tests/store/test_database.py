"""Database: sessions commit or roll back, SQLite pragmas, clear errors for bad URLs."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.messages.common import Side
from gridsup.store.database import Database, render_url, resolve_url
from gridsup.store.errors import DatabaseConfigError, DatabaseUnavailable
from gridsup.store.models import Base
from gridsup.store.trades import TradeRepository

from .conftest import PG_URL, require_postgres

SECRET = "s3cr3t-pw"


async def open_a_trade(session: AsyncSession) -> None:
    await TradeRepository(session).create(
        exchange="x", strategy="g", symbol="A/B", side=Side.BUY,
        amount=Decimal(1), open_price=Decimal(1), opened_at=1,
    )  # fmt: skip


async def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.session() as session:
            await open_a_trade(session)
            raise Boom
    async with db.session() as session:
        assert await TradeRepository(session).history() == []
        await open_a_trade(session)
    async with db.session() as session:
        assert len(await TradeRepository(session).history()) == 1


async def test_health_check(db: Database) -> None:
    assert await db.health_check() is True
    await db.disconnect()
    assert await db.health_check() is False
    await db.connect()


async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    async with Database(url, busy_timeout_ms=4321) as db, db.engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    assert (mode, fks, busy) == ("wal", 1, 4321)


@pytest.mark.parametrize(
    ("url", "error", "words"),
    [
        # nothing listens on port 1: unreachable
        (
            f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:1/test",
            DatabaseUnavailable,
            "127.0.0.1:1",
        ),
        (
            f"postgresql+nosuchdriver://postgres:{SECRET}@127.0.0.1/test",
            DatabaseConfigError,
            "nosuchdriver",
        ),
        (f"mysql://root:{SECRET}@127.0.0.1/test", DatabaseConfigError, "unsupported"),
        (f"sqlite:////proc/gridsup-{SECRET}/no/such/dir.db", DatabaseUnavailable, "unavailable"),
        ("not a url at all", DatabaseConfigError, "malformed"),
    ],
)
async def test_bad_databases_give_one_clear_error_without_the_password(
    url: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        await Database(url, connect_timeout=5).connect()
    message = str(caught.value)
    assert words in message
    if "://" in url and "sqlite" not in url:
        assert SECRET not in message and "***" in message


async def test_unknown_postgres_database_is_a_config_error() -> None:
    require_postgres()
    url = PG_URL.replace("/test", "/gridsup_no_such_db").replace("postgres@", f"postgres:{SECRET}@")
    with pytest.raises(DatabaseConfigError) as caught:
        await Database(url).connect()
    assert "gridsup_no_such_db" in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_resolve_url_fills_in_the_async_driver(given: str, expected: str) -> None:
    assert render_url(resolve_url(given)) == expected


def test_url_comes_from_the_environment_then_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GRIDSUP_DB_URL", raising=False)
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(tmp_path))
    assert resolve_url().database == str(tmp_path / "gridsup.db")
    monkeypatch.setenv("GRIDSUP_DB_URL", "postgresql://u:p@h/d")
    assert render_url(resolve_url()) == "postgresql+asyncpg://u:***@h/d"


async def test_a_database_busy_past_its_timeout_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    async with Database(f"sqlite:///{path}", busy_timeout_ms=50) as db:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        try:
            with pytest.raises(DatabaseUnavailable, match="locked"):
                async with db.session() as session:
                    await open_a_trade(session)
        finally:
            other.execute("ROLLBACK")
            other.close()
        async with db.session() as session:  # and it works again once the writer is done
            await open_a_trade(session)


async def test_a_lost_postgres_connection_is_unavailable_then_recovers(pg_db: Database) -> None:
    with pytest.raises(DatabaseUnavailable, match="unavailable"):
        async with pg_db.session() as session:
            pid = (await session.execute(select(func.pg_backend_pid()))).scalar()
            async with pg_db.engine.connect() as admin:
                # The second argument waits (ms) until the backend is really gone.
                await admin.execute(select(func.pg_terminate_backend(pid, 5000)))
            await session.execute(select(1))
    async with pg_db.session() as session:  # the pool replaced the dead connection
        assert (await session.execute(select(1))).scalar() == 1


async def test_a_transaction_left_idle_past_its_limit_is_ended_by_the_server() -> None:
    """What a cluster member cut off mid-transaction leaves behind: the server ends the
    session (and frees its row locks) instead of holding them for the next owner."""
    require_postgres()
    async with Database(PG_URL, idle_in_transaction_s=0.3) as db:
        with pytest.raises(DatabaseUnavailable):
            async with db.session() as session:
                await session.execute(select(1))
                await asyncio.sleep(1.0)  # silent inside the transaction
                await session.execute(select(1))
        async with db.session() as session:  # a fresh connection answers
            assert (await session.execute(select(1))).scalar() == 1
