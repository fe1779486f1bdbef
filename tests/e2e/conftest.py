"""Fixtures of the end-to-end tests: private data and run directories, grids files,
fresh PostgreSQL databases, and a `gridsup start` subprocess driver."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from e2e_support import GridsEnv


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GridsEnv]:
    """A private data directory (SQLite, locks) and a short run directory (unix socket
    paths are limited to 107 bytes, tmp_path can be long), set in the environment of
    this process and of every `gridsup` child."""
    run_base = Path(tempfile.mkdtemp(prefix="gse2e-", dir="/tmp"))
    data = tmp_path / "data"
    monkeypatch.setenv("GRIDSUP_DATA_DIR", str(data))
    monkeypatch.setenv("GRIDSUP_RUN_DIR", str(run_base))
    for name in ("GRIDSUP_DB_URL", "GRIDSUP_EXCHANGE_MODE", "GRIDSUP_LOG_JSON"):
        monkeypatch.delenv(name, raising=False)
    world = GridsEnv(tmp_path, data, run_base, dict(os.environ))
    yield world
    world.cleanup()
    shutil.rmtree(run_base, ignore_errors=True)


PG_ADMIN = os.environ.get(
    "GRIDSUP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _pg(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN.replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards (skips without
    a server locally; fails under CI)."""
    name = f"gse2e_{uuid.uuid4().hex[:10]}"
    try:
        _pg(f"CREATE DATABASE {name}")
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN} unusable: {exc!r}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN} unusable: {exc!r}")
    base, _, _ = PG_ADMIN.rpartition("/")
    yield f"{base}/{name}"
    _pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
