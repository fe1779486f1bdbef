"""OHLCV cache and fetcher over real Binance candles served by a fake exchange."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gridsup.exchange.candles import load_candles
from gridsup.exchange.errors import ExchangeUnavailable
from gridsup.store.ohlcv import CacheKey, OHLCVCache, OHLCVFetcher
from gridsup.store.ohlcv.coverage import merge, missing
from helpers import shared_data

from .ohlcv_fakes import CandleExchange

MINUTE = 60_000
SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return load_candles(shared_data("binance_BTC-USDT_1m.csv.gz")).head(5000)


def make(
    candles: pd.DataFrame, root: Path, *, limit: int = 500, budget: int = 64 << 20
) -> tuple[CandleExchange, OHLCVCache, OHLCVFetcher]:
    exchange = CandleExchange(candles, max_limit=limit)
    cache = OHLCVCache(root, memory_budget=budget)
    end = int(candles["timestamp"].iloc[-1]) + MINUTE
    # "now" is after the last served candle has closed, unless a test moves it
    fetcher = OHLCVFetcher(exchange, cache, page_limit=limit, now_ms=lambda: end)
    return exchange, cache, fetcher


def t(candles: pd.DataFrame, i: int) -> int:
    return int(candles["timestamp"].iloc[i])


def expected(candles: pd.DataFrame, a: int, b: int) -> pd.DataFrame:
    return candles.iloc[a:b].reset_index(drop=True)


async def test_miss_then_memory_hit_then_disk_hit(candles: pd.DataFrame, tmp_path: Path) -> None:
    exchange, cache, fetcher = make(candles, tmp_path)
    first = await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 1200))
    pd.testing.assert_frame_equal(first, expected(candles, 0, 1200))
    assert len(exchange.calls) == 3  # 500 + 500 + 200
    assert (cache.stats.misses, cache.stats.memory_hits) == (1, 0)

    again = await fetcher.fetch(SYMBOL, "1m", t(candles, 100), t(candles, 900))
    pd.testing.assert_frame_equal(again, expected(candles, 100, 900))
    assert len(exchange.calls) == 3  # nothing asked of the exchange
    assert cache.stats.memory_hits == 1

    exchange2, cache2, fetcher2 = make(candles, tmp_path)  # a new process: disk only
    from_disk = await fetcher2.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 1200))
    pd.testing.assert_frame_equal(from_disk, expected(candles, 0, 1200))
    assert (exchange2.calls, cache2.stats.disk_hits) == ([], 1)
    assert cache2.path_for(CacheKey("fakex", SYMBOL, "1m")).name == "1m.parquet"


async def test_only_missing_intervals_are_fetched(candles: pd.DataFrame, tmp_path: Path) -> None:
    exchange, _, fetcher = make(candles, tmp_path)
    await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 300))
    await fetcher.fetch(SYMBOL, "1m", t(candles, 600), t(candles, 900))
    exchange.calls.clear()
    assert fetcher.missing_intervals(SYMBOL, "1m", t(candles, 0), t(candles, 1000)) == [
        (t(candles, 300), t(candles, 600)),
        (t(candles, 900), t(candles, 1000)),
    ]
    whole = await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 1000))
    pd.testing.assert_frame_equal(whole, expected(candles, 0, 1000))
    assert [since for _, _, since, _ in exchange.calls] == [t(candles, 300), t(candles, 900)]


async def test_the_forming_candle_is_never_cached(candles: pd.DataFrame, tmp_path: Path) -> None:
    exchange, cache, fetcher = make(candles, tmp_path)
    now = t(candles, 100) + 30_000  # half-way through candle 100
    fetcher.now_ms = lambda: now
    got = await fetcher.fetch(SYMBOL, "1m", t(candles, 0))
    assert int(got["timestamp"].iloc[-1]) == t(candles, 99)
    entry = cache.get(CacheKey("fakex", SYMBOL, "1m"))
    assert entry is not None and int(entry.frame["timestamp"].max()) == t(candles, 99)

    now = t(candles, 150) + 1  # later: candles 100..149 have closed
    exchange.calls.clear()
    later = await fetcher.fetch(SYMBOL, "1m", t(candles, 0))
    pd.testing.assert_frame_equal(later, expected(candles, 0, 150))
    assert [since for _, _, since, _ in exchange.calls] == [t(candles, 100)]


async def test_a_gap_the_exchange_has_is_not_refetched(
    candles: pd.DataFrame, tmp_path: Path
) -> None:
    holey = candles.drop(index=range(200, 260))  # an hour with no trading
    exchange, _, fetcher = make(holey, tmp_path)
    got = await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 400))
    assert len(got) == 340
    exchange.calls.clear()
    await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 400))
    assert exchange.calls == []


async def test_an_outage_keeps_what_arrived_and_resumes(
    candles: pd.DataFrame, tmp_path: Path
) -> None:
    exchange, _, fetcher = make(candles, tmp_path, limit=100)
    exchange.fail_after = 3
    with pytest.raises(ExchangeUnavailable):
        await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 1000))
    assert fetcher.missing_intervals(SYMBOL, "1m", t(candles, 0), t(candles, 1000)) == [
        (t(candles, 300), t(candles, 1000))
    ]
    exchange.fail_after = None
    got = await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 1000))
    pd.testing.assert_frame_equal(got, expected(candles, 0, 1000))


def test_memory_is_bounded_and_evicts_least_recently_used(
    candles: pd.DataFrame, tmp_path: Path
) -> None:
    part = candles.head(1000)
    size = int(part.memory_usage(index=True, deep=True).sum())
    cache = OHLCVCache(tmp_path, memory_budget=int(size * 2.5))
    keys = [CacheKey("fakex", s, "1m") for s in ("A/USDT", "B/USDT", "C/USDT")]
    cache.put(keys[0], part, [(0, 1)])
    cache.put(keys[1], part, [(0, 1)])
    cache.get(keys[0])  # A is now more recent than B
    cache.put(keys[2], part, [(0, 1)])
    assert [cache.in_memory(k) for k in keys] == [True, False, True]
    assert cache.stats.evictions == 1 and cache.memory_bytes <= cache.memory_budget
    assert cache.get(keys[1]) is not None and cache.stats.disk_hits == 1


async def test_a_corrupt_file_is_reported_and_refetched(
    candles: pd.DataFrame, tmp_path: Path
) -> None:
    _, _, fetcher = make(candles, tmp_path)
    await fetcher.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 700))
    path = OHLCVCache(tmp_path).path_for(CacheKey("fakex", SYMBOL, "1m"))
    path.write_bytes(b"PAR1 this is not parquet")

    exchange2, cache2, fetcher2 = make(candles, tmp_path)
    got = await fetcher2.fetch(SYMBOL, "1m", t(candles, 0), t(candles, 700))
    pd.testing.assert_frame_equal(got, expected(candles, 0, 700))
    assert cache2.stats.corrupt == 1 and len(exchange2.calls) == 2
    assert path.with_suffix(".corrupt").exists()


@pytest.mark.parametrize(
    ("covered", "start", "end", "gaps"),
    [
        ([], 0, 10, [(0, 10)]),
        ([(0, 10)], 0, 10, []),
        ([(2, 4), (6, 8)], 0, 10, [(0, 2), (4, 6), (8, 10)]),
        ([(0, 5)], 3, 7, [(5, 7)]),
        ([(5, 20)], 0, 10, [(0, 5)]),
    ],
)
def test_missing_intervals(
    covered: list[tuple[int, int]], start: int, end: int, gaps: list[tuple[int, int]]
) -> None:
    assert missing(merge(covered), start, end) == gaps


def test_merge_joins_touching_intervals() -> None:
    assert merge([(5, 6), (0, 2), (2, 4), (1, 3)]) == [(0, 4), (5, 6)]
