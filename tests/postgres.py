"""The test PostgreSQL server ($GRIDSUP_TEST_PG_URL) and scratch databases on it, for
every test package that needs a database of its own (a URL cannot carry a schema
search path, so tests of separate processes cannot share one by schema)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_URL = os.environ.get("GRIDSUP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def pg_execute(url: str, sql: str) -> None:
    """Run ``sql`` (autocommit, so CREATE DATABASE works) on the database at ``url``
    (a SQLAlchemy URL: ``+asyncpg`` is dropped), in an event loop of its own."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of a fresh, empty database ``<prefix>_<random>`` on the test server,
    dropped afterwards (skips without a server locally; fails under CI)."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        pg_execute(PG_URL, f"CREATE DATABASE {name}")
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} unusable: {exc!r}")
        pytest.skip(f"PostgreSQL at {PG_URL} unusable: {exc!r}")
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        pg_execute(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
