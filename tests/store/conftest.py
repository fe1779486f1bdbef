"""Every store test runs twice: on a SQLite file and on PostgreSQL (a fresh schema).

Without a PostgreSQL server the PostgreSQL cases skip with the reason; with ``CI`` set
they fail instead, so CI can never go green without having run them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from gridsup.store.database import Database
from gridsup.store.models import Base
from postgres import PG_URL


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used (None when it can). Probed once per session, in a
    thread because the test's event loop is already running."""
    outcome: list[str | None] = []

    async def probe() -> None:
        dsn = PG_URL.replace("+asyncpg", "")
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()

    def run() -> None:
        try:
            asyncio.run(probe())
            outcome.append(None)
        except Exception as exc:
            outcome.append(f"PostgreSQL not reachable at {PG_URL}: {exc!r}")

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(15)
    return outcome[0] if outcome else f"PostgreSQL at {PG_URL} did not answer in 15 s"


def require_postgres() -> None:
    if (problem := postgres_problem()) is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI must run the PostgreSQL cases)")
        pytest.skip(problem)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_name(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@asynccontextmanager
async def database(engine_name: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A connected database with no tables: a SQLite file, or a private PG schema."""
    if engine_name == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        await db.connect()
        try:
            yield db
        finally:
            await db.disconnect()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    db = Database(PG_URL, schema=schema)
    await db.connect()
    async with db.engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield db
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await db.disconnect()


async def create_tables(db: Database) -> Database:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return db


@pytest.fixture
async def empty_db(engine_name: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A connected database with no tables, on each engine."""
    async with database(engine_name, tmp_path) as db:
        yield db


@pytest.fixture
async def db(empty_db: Database) -> Database:
    """A connected database with the models' tables, on each engine."""
    return await create_tables(empty_db)


@pytest.fixture
async def pg_db(tmp_path: Path) -> AsyncIterator[Database]:
    """PostgreSQL only (for what exists only there, like advisory locks)."""
    require_postgres()
    async with database("postgres", tmp_path) as db:
        yield await create_tables(db)
