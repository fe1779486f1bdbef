"""The light grid lock (no SQLAlchemy) contends for exactly the lock that the store's
flavour (``gridsup start``'s pre-check) takes, on SQLite files and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from trading_support import PG_URL, postgres_problem

from gridsup.store.database import Database, data_dir, resolve_url, sqlite_path
from gridsup.store.grid_lock_light import (
    AsyncpgAdvisoryLock,
    FileGridLock,
    LockUnavailable,
    LockUrlError,
    light_grid_lock,
    postgres_dsn,
    sqlite_file,
)
from gridsup.store.grid_lock_light import data_dir as light_data_dir
from gridsup.store.locks import grid_lock


def new_grid() -> str:
    return f"grid-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:////var/lib/gridsup/gridsup.db",
        "sqlite:////tmp/a%20b/x.db",
        "sqlite:///relative/x.db",
        "sqlite+aiosqlite:///~/gridsup.db",
        "sqlite://",
        "sqlite:///:memory:",
    ],
)
def test_sqlite_files_are_read_like_the_store_reads_them(url: str) -> None:
    assert sqlite_file(url) == sqlite_path(resolve_url(url))


def test_the_data_directory_is_the_stores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert light_data_dir() == data_dir()
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(tmp_path))
    assert light_data_dir() == data_dir() == tmp_path


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql+asyncpg://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql://u@h/db?sslmode=require"),
        ("postgres://h/db", "postgresql://h/db"),
    ],
)
def test_postgres_urls_become_asyncpg_dsns(url: str, dsn: str) -> None:
    assert postgres_dsn(url) == dsn


@pytest.mark.parametrize("url", ["mysql://h/db", "no-scheme-at-all"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(LockUrlError):
        light_grid_lock(url, "g")


async def test_the_light_file_lock_and_the_stores_contend(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gridsup.db'}"
    grid = new_grid()
    light = light_grid_lock(url, grid)
    assert isinstance(light, FileGridLock)
    db = Database(url)
    heavy = grid_lock(db, grid)

    assert await light.acquire() is True
    assert await light.check() is True
    assert await heavy.acquire() is False  # gridsup start's pre-check sees it held
    assert await light_grid_lock(url, new_grid()).acquire() is True  # other grids are free
    await light.release()
    assert await heavy.acquire() is True
    assert await light.acquire() is False
    await heavy.release()


@pytest.fixture
def postgres() -> str:
    """The test server's URL; skips without one (fails under CI). A sync fixture: the
    probe runs its own event loop."""
    if (problem := postgres_problem()) is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return PG_URL


@pytest.mark.postgres
async def test_the_light_advisory_lock_and_the_stores_contend(postgres: str) -> None:
    grid = new_grid()
    light = light_grid_lock(PG_URL, grid)
    assert isinstance(light, AsyncpgAdvisoryLock)
    db = Database(PG_URL)
    await db.connect()
    try:
        heavy = grid_lock(db, grid)
        assert await light.acquire() is True
        assert await light.acquire() is True  # re-entrant for its holder
        assert await heavy.acquire() is False
        assert await light_grid_lock(PG_URL, grid).acquire() is False  # a second copy
        await light.release()
        assert await heavy.acquire() is True
        assert await light.acquire() is False
        await heavy.release()
    finally:
        await db.disconnect()


@pytest.mark.postgres
async def test_a_killed_lock_session_is_noticed_and_frees_the_grid(postgres: str) -> None:
    grid = new_grid()
    holder = light_grid_lock(PG_URL, grid)
    assert await holder.acquire()
    assert isinstance(holder, AsyncpgAdvisoryLock) and holder._conn is not None
    pid = holder._conn.get_server_pid()
    admin = await asyncpg.connect(postgres_dsn(PG_URL), timeout=5)
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()

    assert await holder.check() is False  # the strategy actor crashes on this
    assert holder.held is False
    contender = light_grid_lock(PG_URL, grid)
    assert await contender.acquire() is True
    await contender.release()


async def test_an_unreachable_server_is_a_clear_error_not_a_refusal() -> None:
    lock = light_grid_lock("postgresql://nobody:secret@127.0.0.1:1/db", "g")

    with pytest.raises(LockUnavailable) as caught:
        await asyncio.wait_for(lock.acquire(), 30)

    assert "secret" not in str(caught.value)
