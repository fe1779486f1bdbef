"""Fixtures of the end-to-end tests: private data and run directories, grids files,
fresh PostgreSQL databases, and a `gridsup start` subprocess driver."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import GridsEnv

from postgres import scratch_database


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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards (skips without
    a server locally; fails under CI)."""
    with scratch_database("gse2e") as url:
        yield url
