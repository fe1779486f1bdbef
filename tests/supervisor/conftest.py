"""A PostgreSQL database of the cluster commands' tests: created and migrated once per
module, emptied before each test (skips without a server locally; fails under CI)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from click.testing import CliRunner

from gridsup.cli import cli

PG_ADMIN = os.environ.get(
    "GRIDSUP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
CLUSTER_TABLES = ("cluster_members", "grid_leases", "grid_pins", "audit_log", "strategy_states")


def _execute(url: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def migrated_url() -> Iterator[str]:
    name = f"gscluster_{uuid.uuid4().hex[:10]}"
    try:
        _execute(PG_ADMIN, f"CREATE DATABASE {name}")
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN} unusable: {exc!r}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN} unusable: {exc!r}")
    url = f"{PG_ADMIN.rpartition('/')[0]}/{name}"
    try:
        done = CliRunner().invoke(cli, ["db", "upgrade", "--db", url], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        yield url
    finally:
        _execute(PG_ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def cluster_url(migrated_url: str) -> str:
    """The module's database with its cluster tables empty."""
    _execute(migrated_url, f"TRUNCATE {', '.join(CLUSTER_TABLES)}")
    return migrated_url
