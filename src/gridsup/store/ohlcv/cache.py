"""``OHLCVCache``: candles in memory (an LRU bounded by a byte budget) over parquet files
on disk, one per exchange/symbol/timeframe.

A file holds the candles and, in its parquet metadata, the intervals that were asked of
the exchange (so real exchange gaps are not refetched). Files are written to a temporary
name and renamed, so a crash leaves the old file or the new one. A file that cannot be
read is reported (``ohlcv_cache_corrupt``), moved aside and treated as a miss.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from gridsup.store.ohlcv.coverage import Interval, merge

log = structlog.get_logger(__name__)

COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
_COVERAGE_KEY = b"gridsup.coverage"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class CacheKey(NamedTuple):
    exchange: str
    symbol: str
    timeframe: str


@dataclass
class CacheStats:
    """Counters per layer, for tests and ``__repr__``."""

    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    evictions: int = 0
    corrupt: int = 0


@dataclass
class Entry:
    frame: pd.DataFrame
    coverage: list[Interval] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return int(self.frame.memory_usage(index=True, deep=True).sum())


def empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    return frame.astype({"timestamp": "int64"})


class OHLCVCache:
    """Two-layer candle cache under ``root``; memory bounded by ``memory_budget`` bytes."""

    def __init__(self, root: Path, memory_budget: int = 64 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.memory_budget = memory_budget
        self.stats = CacheStats()
        self._memory: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._memory_bytes = 0

    def __repr__(self) -> str:
        return (
            f"<OHLCVCache {self.root} entries={len(self._memory)} "
            f"bytes={self._memory_bytes}/{self.memory_budget} {self.stats}>"
        )

    @property
    def memory_bytes(self) -> int:
        return self._memory_bytes

    def in_memory(self, key: CacheKey) -> bool:
        return key in self._memory

    def path_for(self, key: CacheKey) -> Path:
        """``<root>/<exchange>/<BTC-USDT>/<1m>.parquet``."""
        symbol = _UNSAFE.sub("_", key.symbol.replace("/", "-"))
        return self.root / _UNSAFE.sub("_", key.exchange) / symbol / f"{key.timeframe}.parquet"

    def get(self, key: CacheKey) -> Entry | None:
        """The cached candles and coverage of ``key``, memory first, then disk."""
        return self._lookup(key, count=True)

    def peek(self, key: CacheKey) -> Entry | None:
        """Like ``get`` but not counted in ``stats`` (the cache's own bookkeeping)."""
        return self._lookup(key, count=False)

    def _lookup(self, key: CacheKey, *, count: bool) -> Entry | None:
        entry = self._memory.get(key)
        if entry is not None:
            self._memory.move_to_end(key)
            self.stats.memory_hits += count
            return entry
        entry = self._read(key)
        if entry is None:
            self.stats.misses += count
            return None
        self.stats.disk_hits += count
        self._remember(key, entry)
        return entry

    def put(self, key: CacheKey, frame: pd.DataFrame, coverage: list[Interval]) -> Entry:
        """Replace what is cached for ``key`` (on disk, then in memory).

        Raises:
            OSError: the file cannot be written (the old one is left as it was).
        """
        entry = Entry(frame.reset_index(drop=True), merge(coverage))
        self._write(key, entry)
        self._remember(key, entry)
        return entry

    def merge(self, key: CacheKey, frame: pd.DataFrame, covered: list[Interval]) -> Entry:
        """Add candles (new values win on equal timestamps) and the intervals they cover."""
        old = self.peek(key)
        if old is None or old.frame.empty:
            combined = frame
        elif frame.empty:
            combined = old.frame
        else:
            combined = pd.concat([old.frame, frame], ignore_index=True)
        combined = combined.drop_duplicates("timestamp", keep="last").sort_values("timestamp")
        coverage = (old.coverage if old else []) + covered
        return self.put(key, combined[COLUMNS], coverage)

    def _remember(self, key: CacheKey, entry: Entry) -> None:
        if (old := self._memory.pop(key, None)) is not None:
            self._memory_bytes -= old.nbytes
        size = entry.nbytes
        if size > self.memory_budget:
            return  # larger than the whole budget: served from disk every time
        self._memory[key] = entry
        self._memory_bytes += size
        while self._memory_bytes > self.memory_budget:
            evicted_key, evicted = self._memory.popitem(last=False)
            self._memory_bytes -= evicted.nbytes
            self.stats.evictions += 1
            log.debug("ohlcv_cache_evicted", key=evicted_key, bytes=evicted.nbytes)

    def _read(self, key: CacheKey) -> Entry | None:
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            table = pq.read_table(path)
            frame = table.to_pandas()
            if list(frame.columns) != COLUMNS:
                raise ValueError(f"columns {list(frame.columns)} != {COLUMNS}")
            if not frame["timestamp"].is_monotonic_increasing:
                raise ValueError("timestamps not sorted")
            raw = (table.schema.metadata or {}).get(_COVERAGE_KEY, b"[]")
            coverage = [(int(a), int(b)) for a, b in json.loads(raw)]
        except (OSError, ValueError, TypeError, KeyError, pa.ArrowException) as exc:
            self.stats.corrupt += 1
            aside = path.with_suffix(".corrupt")
            log.warning("ohlcv_cache_corrupt", path=str(path), error=repr(exc), moved_to=str(aside))
            try:
                os.replace(path, aside)
            except OSError as move_error:
                log.error("ohlcv_cache_quarantine_failed", path=str(path), error=repr(move_error))
            return None
        return Entry(frame, merge(coverage))

    def _write(self, key: CacheKey, entry: Entry) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(entry.frame, preserve_index=False)
        metadata = dict(table.schema.metadata or {})
        metadata[_COVERAGE_KEY] = json.dumps(entry.coverage).encode()
        table = table.replace_schema_metadata(metadata)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
