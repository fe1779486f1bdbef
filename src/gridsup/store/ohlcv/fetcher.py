"""``OHLCVFetcher``: candles for a range, from the cache where it has them and from the
exchange (paginated, ccxt style) for the missing intervals only.

The candle still forming at "now" is never cached: only candles whose close time has
passed are stored, so a cached candle never changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import pandas as pd
import structlog

from gridsup.exchange.types import Candle
from gridsup.store.ohlcv.cache import COLUMNS, CacheKey, OHLCVCache, empty_frame
from gridsup.store.ohlcv.coverage import Interval, missing
from gridsup.store.ohlcv.timeframes import timeframe_ms

log = structlog.get_logger(__name__)

# progress(candles fetched so far, candles expected in the missing intervals)
Progress = Callable[[int, int], None]


class CandleSource(Protocol):
    """The one part of the ``Exchange`` Protocol the fetcher uses (any ``Exchange`` is
    one); declared here so the store does not depend on the exchange layer."""

    id: str

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]: ...


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def candles_frame(candles: list[Candle]) -> pd.DataFrame:
    """Candles as the cache's frame (float64 prices, like ``load_candles``)."""
    if not candles:
        return empty_frame()
    frame = pd.DataFrame(
        {
            "timestamp": [c.timestamp for c in candles],
            "open": [float(c.open) for c in candles],
            "high": [float(c.high) for c in candles],
            "low": [float(c.low) for c in candles],
            "close": [float(c.close) for c in candles],
            "volume": [float(c.volume) for c in candles],
        }
    )
    return frame.astype({"timestamp": "int64"})[COLUMNS]


class OHLCVFetcher:
    """Fills ``cache`` from ``exchange``; ``now_ms`` is a seam for tests."""

    def __init__(
        self,
        exchange: CandleSource,
        cache: OHLCVCache,
        *,
        page_limit: int = 1000,
        now_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.exchange = exchange
        self.cache = cache
        self.page_limit = page_limit
        self.now_ms = now_ms
        self.requests = 0

    def key(self, symbol: str, timeframe: str) -> CacheKey:
        return CacheKey(self.exchange.id, symbol, timeframe)

    def missing_intervals(
        self, symbol: str, timeframe: str, since: int, until: int | None = None
    ) -> list[Interval]:
        """What ``fetch`` would ask the exchange for (closed candles only).

        Raises:
            ValueError: unsupported timeframe.
        """
        start, end = self._bounds(timeframe, since, until)
        entry = self.cache.get(self.key(symbol, timeframe))
        return missing(entry.coverage if entry else [], start, end)

    async def fetch(
        self,
        symbol: str,
        timeframe: str,
        since: int,
        until: int | None = None,
        progress: Progress | None = None,
    ) -> pd.DataFrame:
        """Closed candles with ``since <= timestamp < until`` (until defaults to now).

        Raises:
            ValueError: unsupported timeframe.
            gridsup.exchange.errors.ExchangeError: the exchange failed; what was fetched
                before the failure is kept in the cache.
        """
        tf = timeframe_ms(timeframe)
        start, end = self._bounds(timeframe, since, until)
        key = self.key(symbol, timeframe)
        entry = self.cache.get(key)
        gaps = missing(entry.coverage if entry else [], start, end)
        expected = sum((b - a) // tf for a, b in gaps)
        done = 0
        if progress:
            progress(done, expected)
        for gap_start, gap_end in gaps:
            candles: list[Candle] = []
            covered_to = gap_start
            try:
                cursor = gap_start
                while cursor < gap_end:
                    page = await self.exchange.fetch_ohlcv(
                        symbol, timeframe, since=cursor, limit=self.page_limit
                    )
                    self.requests += 1
                    fresh = [c for c in page if cursor <= c.timestamp < gap_end]
                    candles.extend(fresh)
                    done += len(fresh)
                    if progress:
                        progress(done, expected)
                    if not page or page[-1].timestamp + tf <= cursor:
                        covered_to = gap_end  # the exchange has nothing more here
                        break
                    cursor = covered_to = min(page[-1].timestamp + tf, gap_end)
            finally:
                # Keep what arrived even when the exchange failed halfway.
                if covered_to > gap_start or candles:
                    self.cache.merge(key, candles_frame(candles), [(gap_start, covered_to)])
            log.info("ohlcv_fetched", key=key, start=gap_start, end=gap_end, candles=len(candles))
        if progress:
            progress(expected, expected)
        result = self.cache.peek(key)
        if result is None:
            return empty_frame()
        frame = result.frame
        window = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]
        return window.reset_index(drop=True)

    def _bounds(self, timeframe: str, since: int, until: int | None) -> Interval:
        tf = timeframe_ms(timeframe)
        start = since - since % tf
        # A candle is closed once its open time + length has passed: end at the last
        # closed candle's end, so the one still forming is never asked for nor cached.
        closed_end = self.now_ms() // tf * tf
        end = closed_end if until is None else min(closed_end, until)
        return start, max(start, end)
