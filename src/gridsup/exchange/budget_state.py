"""What every request budget shares (Binance's weight budget in ``budget.py``, the
venues' counters in ``venue_budget.py``): its state kept in this process or in a JSON
file under an exclusive ``flock`` that every process of the host opens, the check of its
share of the limits, the case-blind header look-up and the refusal counts it reports.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from gridsup.messages import telemetry

__all__ = [
    "FileStore",
    "MemoryStore",
    "check_share",
    "header_value",
    "refusal_figures",
    "state_store",
]

S = TypeVar("S")
R = TypeVar("R")


def header_value(headers: Mapping[str, Any] | None, name: str | None) -> str | None:
    """The value of header ``name`` in ``headers``, whatever its case (None: absent)."""
    if not headers or name is None:
        return None
    wanted = name.lower()
    return next((str(v) for k, v in headers.items() if str(k).lower() == wanted), None)


def refusal_figures(http_429: int, http_418: int, ban_until: float) -> dict[str, int]:
    """A budget's shared refusal counts under their telemetry keys: the run's 429 and
    ban answers so far and the end of the last ban (epoch seconds, given as ms; 0:
    none)."""
    return {
        telemetry.HTTP_429: http_429,
        telemetry.HTTP_418: http_418,
        telemetry.BANNED_UNTIL_MS: int(ban_until * 1000),
    }


class MemoryStore(Generic[S]):
    """A budget's state in this process only (one process, tests)."""

    def __init__(self, state: S) -> None:
        self._state = state

    def update(self, fn: Callable[[S], R]) -> R:
        return fn(self._state)


class FileStore(Generic[S]):
    """A budget's state in a JSON file, changed under an exclusive flock (every process
    on the host that opens the same path shares it). ``load`` builds the state from the
    file's JSON (raising ValueError/TypeError/KeyError on a torn or foreign file: then
    ``fresh`` starts afresh), ``dump`` gives the JSON to write back."""

    def __init__(
        self,
        path: Path,
        load: Callable[[dict[str, Any]], S],
        dump: Callable[[S], dict[str, Any]],
        fresh: Callable[[], S],
    ) -> None:
        self.path = path
        self._load, self._dump, self._fresh = load, dump, fresh
        path.parent.mkdir(parents=True, exist_ok=True)

    def update(self, fn: Callable[[S], R]) -> R:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 65536)
            try:
                state = self._load(json.loads(raw) if raw else {})
            except (ValueError, TypeError, KeyError, AttributeError):
                state = self._fresh()  # a torn or foreign file: start counting afresh
            result = fn(state)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(self._dump(state)).encode())
            return result
        finally:
            os.close(fd)  # releases the lock


def state_store(
    path: Path | None,
    fresh: Callable[[], S],
    load: Callable[[dict[str, Any]], S],
    dump: Callable[[S], dict[str, Any]],
) -> MemoryStore[S] | FileStore[S]:
    """Where a budget keeps its shared state: in this process when there is no ``path``,
    else in the file at ``path`` that every process of the host shares."""
    return MemoryStore(fresh()) if path is None else FileStore(path, load, dump, fresh)


def check_share(share: float) -> None:
    """Raises:
    ValueError: ``share`` (of a venue's limits, for this run) is not in (0, 1].
    """
    if not 0 < share <= 1:
        raise ValueError(f"request budget share must be in (0, 1], got {share}")
