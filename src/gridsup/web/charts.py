"""What the grid page draws: candles from the OHLCV cache where it holds the grid's
symbol for this run's exchange (``gridsup data fetch``), else the live ticks kept by the
tick buffer; the grid's levels and stop prices; its open orders and its fills (both from
the database).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from gridsup.web.fleet import GridInfo
from gridsup.web.ticks import TickBuffer

log = structlog.get_logger("gridsup.web")

MAX_CANDLES = 720  # the last 12 hours of 1m candles
TIMEFRAME = "1m"


def cached_candles(exchange_id: str, symbol: str, limit: int = MAX_CANDLES) -> list[list[float]]:
    """The last ``limit`` cached candles ``[ms, open, high, low, close]`` (blocking: parquet).

    Empty when the cache has none for this exchange and symbol, or cannot be read.
    """
    from gridsup.store.ohlcv.cache import CacheKey, OHLCVCache
    from gridsup.store.paths import data_dir

    cache = OHLCVCache(data_dir() / "ohlcv", memory_budget=8 * 1024 * 1024)
    key = CacheKey(exchange_id, symbol, TIMEFRAME)
    if not cache.path_for(key).exists():
        return []
    entry = cache.get(key)
    if entry is None or entry.frame.empty:
        return []
    tail = entry.frame.tail(limit)
    return [
        [int(t), float(o), float(h), float(low), float(c)]
        for t, o, h, low, c in zip(
            tail["timestamp"], tail["open"], tail["high"], tail["low"], tail["close"], strict=True
        )
    ]


async def chart_data(
    db: Any, prices: TickBuffer, exchange_id: str, info: GridInfo
) -> dict[str, Any]:
    """The grid page's chart: price (candles or ticks), levels, open orders, fills."""
    try:
        candles = await asyncio.to_thread(cached_candles, exchange_id, info.symbol)
    except Exception as exc:  # a corrupt cache file: draw the ticks instead, say why
        log.warning("chart_candles_failed", symbol=info.symbol, error=repr(exc))
        candles = []
    ticks = [] if candles else [[t, p] for t, p in prices.series(info.symbol)]
    opened: list[dict[str, Any]] = []
    fills: list[dict[str, Any]] = []
    if db is not None:
        from gridsup.store.dashboard import open_orders, recent_fills

        opened = await open_orders(db, info.name)
        fills = await recent_fills(db, info.name)
    price = prices.latest.get(info.symbol)
    return {
        "grid": info.name,
        "symbol": info.symbol,
        "source": "candles" if candles else "ticks",
        "timeframe": TIMEFRAME if candles else None,
        "candles": candles,
        "ticks": ticks,
        "price": None if price is None else str(price),
        "levels": [str(level) for level in info.levels],
        "lower": str(info.lower),
        "upper": str(info.upper),
        "stop_loss": None if info.stop_loss is None else str(info.stop_loss),
        "take_profit": None if info.take_profit is None else str(info.take_profit),
        "open_orders": opened,
        "fills": fills,
    }
