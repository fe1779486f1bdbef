"""Grid locks (invariant 1): a second holder is refused, the lock dies with its holder,
and database URLs are read the way the store reads them (so ``gridsup start``'s
pre-check and a strategy actor always contend for the same lock)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from gridsup.store.database import Database, data_dir, resolve_url, sqlite_path
from gridsup.store.locks import (
    AsyncpgAdvisoryLock,
    FileGridLock,
    GridLock,
    LockUnavailable,
    LockUrlError,
    grid_lock,
    postgres_dsn,
    sqlite_file,
)
from gridsup.store.locks import data_dir as locks_data_dir
from helpers import aeventually

HOLDER = Path(__file__).with_name("lock_holder.py")


def new_grid() -> str:
    return f"grid-{uuid.uuid4().hex[:8]}"


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


async def test_a_second_holder_is_refused_until_release(db: Database) -> None:
    grid = new_grid()
    first, second = grid_lock(url_of(db), grid), grid_lock(url_of(db), grid)
    other_grid = grid_lock(url_of(db), new_grid())
    assert isinstance(first, GridLock)
    assert await first.acquire() is True
    assert await first.acquire() is True  # re-entrant for its holder
    assert await first.check() is True
    assert await second.acquire() is False
    assert await other_grid.acquire() is True  # grids do not block each other
    await first.release()
    assert await second.acquire() is True
    assert (first.held, second.held) == (False, True)
    assert await first.check() is False  # never got it back
    await second.release()
    await other_grid.release()


async def test_the_lock_is_freed_when_its_holder_process_dies(db: Database) -> None:
    grid = new_grid()
    child = subprocess.Popen(
        [sys.executable, str(HOLDER), url_of(db), grid], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        lock = grid_lock(url_of(db), grid)
        assert await lock.acquire() is False
        child.kill()
        child.wait(timeout=10)
        await aeventually(lock.acquire, timeout=10, message="lock freed by the dead holder")
        await lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)


@pytest.mark.postgres
async def test_a_killed_lock_session_is_noticed_and_frees_the_grid(pg_db: Database) -> None:
    grid = new_grid()
    holder = grid_lock(url_of(pg_db), grid)
    assert isinstance(holder, AsyncpgAdvisoryLock)
    assert await holder.acquire()
    assert holder._conn is not None
    admin = await asyncpg.connect(postgres_dsn(url_of(pg_db)), timeout=5)
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", holder._conn.get_server_pid())
    finally:
        await admin.close()

    assert await holder.check() is False  # the strategy actor crashes on this
    assert holder.held is False
    contender = grid_lock(url_of(pg_db), grid)
    await aeventually(contender.acquire, timeout=10, message="lock freed by the dead session")
    await contender.release()


async def test_an_unreachable_server_is_a_clear_error_not_a_refusal() -> None:
    lock = grid_lock("postgresql://nobody:secret@127.0.0.1:1/db", "g")

    with pytest.raises(LockUnavailable) as caught:
        await asyncio.wait_for(lock.acquire(), 30)

    assert "secret" not in str(caught.value)


async def test_sqlite_locks_are_files_next_to_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gridsup.db'}"
    lock = grid_lock(url, "g1")

    assert isinstance(lock, FileGridLock)
    assert lock.path == tmp_path / "gridsup.db.locks" / "g1.lock"


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
    assert locks_data_dir() == data_dir()
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(tmp_path))
    assert locks_data_dir() == data_dir() == tmp_path


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
        grid_lock(url, "g")
