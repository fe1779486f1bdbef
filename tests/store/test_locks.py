"""Grid locks: a second holder is refused, and the lock dies with its holder."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gridsup.store.database import Database, render_url
from gridsup.store.grid_lock_light import light_grid_lock
from gridsup.store.locks import GridLock, PostgresAdvisoryLock, grid_lock
from helpers import aeventually

HOLDER = Path(__file__).with_name("lock_holder.py")


def new_grid() -> str:
    return f"grid-{uuid.uuid4().hex[:8]}"


async def test_a_second_holder_is_refused_until_release(db: Database) -> None:
    grid = new_grid()
    first, second = grid_lock(db, grid), grid_lock(db, grid)
    other_grid = grid_lock(db, new_grid())
    assert isinstance(first, GridLock)
    assert await first.acquire() is True
    assert await first.acquire() is True  # re-entrant for its holder
    assert await second.acquire() is False
    assert await other_grid.acquire() is True  # grids do not block each other
    await first.release()
    assert await second.acquire() is True
    assert (first.held, second.held) == (False, True)
    await second.release()
    await other_grid.release()


async def test_the_lock_is_freed_when_its_holder_process_dies(db: Database) -> None:
    grid = new_grid()
    url = render_url(db.url).replace("***", "")  # the test servers need no password
    child = subprocess.Popen(
        [sys.executable, str(HOLDER), url, grid], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        lock = grid_lock(db, grid)
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
async def test_the_advisory_lock_is_freed_when_its_connection_dies(pg_db: Database) -> None:
    db = pg_db
    grid = new_grid()
    holder = grid_lock(db, grid)
    assert isinstance(holder, PostgresAdvisoryLock)
    assert await holder.acquire()
    assert holder._conn is not None
    pid = (await holder._conn.execute(select(func.pg_backend_pid()))).scalar()
    async with db.engine.connect() as admin:
        await admin.execute(select(func.pg_terminate_backend(pid)))
    contender = grid_lock(db, grid)
    await aeventually(contender.acquire, timeout=10, message="lock freed by the dead session")
    assert await holder.check() is False  # the old holder learns it lost the lock
    assert holder.held is False
    await contender.release()


async def test_the_light_lock_of_strategy_actors_contends_with_this_one(db: Database) -> None:
    """Strategy actors take the SQLAlchemy-free flavour: both must guard the same grid."""
    grid = new_grid()
    url = render_url(db.url).replace("***", "")
    heavy, light = grid_lock(db, grid), light_grid_lock(url, grid)
    assert await heavy.acquire() is True
    assert await light.acquire() is False
    await heavy.release()
    assert await light.acquire() is True
    assert await light.check() is True
    assert await heavy.acquire() is False
    await light.release()
    assert await heavy.check() is False  # never got it back
