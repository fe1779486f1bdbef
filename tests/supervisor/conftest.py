"""A PostgreSQL database of the cluster commands' tests: created and migrated once per
module, emptied before each test (skips without a server locally; fails under CI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from gridsup.cli import cli
from postgres import pg_execute, scratch_database

CLUSTER_TABLES = ("cluster_members", "grid_leases", "grid_pins", "audit_log", "strategy_states")


@pytest.fixture(scope="module")
def migrated_url() -> Iterator[str]:
    with scratch_database("gscluster") as url:
        done = CliRunner().invoke(cli, ["db", "upgrade", "--db", url], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        yield url


@pytest.fixture
def cluster_url(migrated_url: str) -> str:
    """The module's database with its cluster tables empty."""
    pg_execute(migrated_url, f"TRUNCATE {', '.join(CLUSTER_TABLES)}")
    return migrated_url
