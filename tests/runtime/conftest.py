"""Fixtures shared by the runtime's tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def base() -> Iterator[Path]:
    """A fresh directory under /tmp, removed afterwards: short, for ``ipc://`` socket
    paths (a unix socket path has a limit of about 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="gsr-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
