"""gridsup's data directory, without SQLAlchemy: the database module and the light grid
lock of strategy actor processes both derive their files from it."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_DIR = "GRIDSUP_DATA_DIR"


def data_dir() -> Path:
    """gridsup's data directory: ``$GRIDSUP_DATA_DIR``, else ``$XDG_DATA_HOME/gridsup``,
    else ``~/.local/share/gridsup``."""
    if explicit := os.environ.get(ENV_DATA_DIR):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "gridsup"
