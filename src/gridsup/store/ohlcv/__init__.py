"""OHLCV candles: a memory + parquet cache and a fetcher that fills only what is missing."""

from gridsup.store.ohlcv.cache import CacheKey, CacheStats, OHLCVCache
from gridsup.store.ohlcv.fetcher import OHLCVFetcher
from gridsup.store.ohlcv.timeframes import timeframe_ms

__all__ = ["CacheKey", "CacheStats", "OHLCVCache", "OHLCVFetcher", "timeframe_ms"]
