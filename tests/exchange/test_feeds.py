"""Market feeds: the synthetic walk is reproducible by seed and after a seek; the
replay walks each candle's path in order, skips nothing but missing candles, and
resumes where it stopped; ``paced`` waits market time / speed between ticks."""

from __future__ import annotations

import itertools
import math
import statistics
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsup.exchange.candles import load_candles, save_candles, validate_candles
from gridsup.exchange.feeds import DEFAULT_START_MS, ReplayFeed, SyntheticWalk, paced
from gridsup.messages.market import Tick
from helpers import shared_data

D = Decimal
T0 = 1_704_067_200_000
MIN = 60_000


def walk(seed: int = 7, **kwargs: object) -> SyntheticWalk:
    return SyntheticWalk("BTC/USDT", D("42000"), seed, **kwargs)  # type: ignore[arg-type]


def frame(rows: list[tuple[int, float, float, float, float]]) -> pd.DataFrame:
    ts, o, h, lo, c = zip(*rows, strict=True)
    return pd.DataFrame(
        {"timestamp": ts, "open": o, "high": h, "low": lo, "close": c, "volume": [1.0] * len(ts)}
    )


# --------------------------------------------------------------- SyntheticWalk


def test_same_seed_same_ticks_other_seed_other_ticks() -> None:
    assert walk(7).take(3000) == walk(7).take(3000)
    assert [t.last for t in walk(7).take(50)] != [t.last for t in walk(8).take(50)]


@pytest.mark.parametrize("position", [0, 1, 1023, 1024, 1025, 2048, 5000])
def test_seek_continues_exactly_where_the_walk_would_be(position: int) -> None:
    sequential = walk().take(position + 5)
    resumed = walk()

    resumed.seek(position)

    assert resumed.position == position
    assert resumed.take(5) == sequential[position:]


def test_ticks_are_spaced_and_on_the_tick_size() -> None:
    ticks = walk(tick_size=D("0.05"), step_ms=250, start_ms=T0, volatility=0.01).take(2000)

    assert [t.timestamp for t in ticks[:3]] == [T0, T0 + 250, T0 + 500]
    assert all(t.last % D("0.05") == 0 and t.last > 0 for t in ticks)
    assert all(t.symbol == "BTC/USDT" for t in ticks)
    assert ticks[0].last == D("42000.00")


def test_default_start_is_fixed_not_the_wall_clock() -> None:
    assert next(walk()).timestamp == DEFAULT_START_MS


def test_log_returns_have_the_asked_volatility() -> None:
    prices = [
        float(t.last) for t in walk(seed=3, volatility=0.002, tick_size=D("0.0001")).take(20_000)
    ]

    returns = [math.log(b / a) for a, b in itertools.pairwise(prices)]

    assert statistics.pstdev(returns) == pytest.approx(0.002, rel=0.05)


def test_zero_volatility_is_a_flat_line() -> None:
    assert {t.last for t in walk(volatility=0.0).take(100)} == {D("42000.00")}


def test_prices_never_reach_zero() -> None:
    cheap = SyntheticWalk("X/USDT", D("0.02"), 1, volatility=0.5, tick_size=D("0.01"))

    assert min(t.last for t in cheap.take(500)) == D("0.01")


@pytest.mark.parametrize("position", [0, 999, 1_000, 1_001])
def test_seek_time_finds_the_first_tick_at_or_after(position: int) -> None:
    w = walk(start_ms=T0, step_ms=1_000)

    w.seek_time(T0 + position * 1_000 - 1)

    assert next(w).timestamp == T0 + position * 1_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_price": D(0)},
        {"tick_size": D("-0.01")},
        {"step_ms": 0},
        {"volatility": -0.1},
        {"seed": -1},
        {"speed": 0},
    ],
)
def test_bad_walk_parameters_are_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"symbol": "BTC/USDT", "start_price": D(100), "seed": 1, **kwargs}
    with pytest.raises(ValueError):
        SyntheticWalk(**args)  # type: ignore[arg-type]


def test_candles_aggregate_the_ticks() -> None:
    ticks = walk(step_ms=1_000).take(60)

    c = walk(step_ms=1_000).next_candle(60)

    prices = [t.last for t in ticks]
    assert (c.timestamp, c.open, c.close) == (ticks[0].timestamp, prices[0], prices[-1])
    assert (c.high, c.low) == (max(prices), min(prices))
    assert c.volume > 0


def test_candle_frame_is_a_valid_candle_file(tmp_path: Path) -> None:
    df = walk(step_ms=1_000).candle_frame(100, 60)

    pd.testing.assert_frame_equal(validate_candles(df), df)
    assert np.diff(df["timestamp"].to_numpy()).tolist() == [MIN] * 99
    saved = save_candles(df, tmp_path / "walk.parquet")
    pd.testing.assert_frame_equal(load_candles(saved), df)


# ------------------------------------------------------------------ ReplayFeed

# (open, high, low, close) -> expected prices of the ticks, in order
PATHS = [
    ((100.0, 110.0, 90.0, 105.0), ["100", "90", "110", "105"]),  # up: o, l, h, c
    ((100.0, 110.0, 90.0, 95.0), ["100", "110", "90", "95"]),  # down: o, h, l, c
    ((100.0, 110.0, 90.0, 100.0), ["100", "90", "110", "100"]),  # doji walks as up
    ((100.0, 110.0, 100.0, 110.0), ["100", "110"]),  # flat legs add no tick
    ((42283.58, 42283.58, 42283.58, 42283.58), ["42283.58"]),
]


@pytest.mark.parametrize(("ohlc", "expected"), PATHS)
def test_replay_walks_the_intra_candle_path(
    ohlc: tuple[float, float, float, float], expected: list[str]
) -> None:
    feed = ReplayFeed("BTC/USDT", frame([(T0, *ohlc), (T0 + MIN, 1.0, 1.0, 1.0, 1.0)]))

    ticks = [t for t in feed if t.timestamp < T0 + MIN]

    assert [t.last for t in ticks] == [D(p) for p in expected]
    stamps = [t.timestamp for t in ticks]
    assert stamps == sorted(set(stamps)) and stamps[0] == T0 and stamps[-1] < T0 + MIN


def test_a_missing_candle_is_no_trading() -> None:
    rows = [
        (T0, 10.0, 11.0, 9.0, 10.5),
        (T0 + MIN, 10.5, 12, 10, 11),
        (T0 + 3 * MIN, 11, 11, 11, 11),
    ]
    feed = ReplayFeed("X/USDT", frame(rows))

    ticks = list(feed)

    assert feed.timeframe_ms == MIN
    assert not [t for t in ticks if T0 + 2 * MIN <= t.timestamp < T0 + 3 * MIN]
    assert ticks[-1] == Tick(symbol="X/USDT", timestamp=T0 + 3 * MIN, last=D(11))
    assert feed.exhausted


@pytest.mark.parametrize("stop", [0, 1, 5, 9, 12])
def test_a_restarted_replay_continues_from_its_position(stop: int) -> None:
    rows = [(T0 + i * MIN, 10.0 + i, 12.0 + i, 9.0 + i, 11.0 + i) for i in range(4)]
    everything = list(ReplayFeed("X/USDT", frame(rows)))
    first = ReplayFeed("X/USDT", frame(rows))
    head = [next(first) for _ in range(stop)]

    second = ReplayFeed("X/USDT", frame(rows))
    second.seek(first.position)

    assert head + list(second) == everything


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (T0 - 1, T0),
        (T0, T0),
        (T0 + 1, T0 + MIN // 4),
        (T0 + 3 * MIN // 4 + 1, T0 + MIN),  # past the last point of the first candle
        (T0 + MIN + MIN // 2, T0 + MIN + MIN // 2),
    ],
)
def test_replay_seek_time(timestamp: int, expected: int) -> None:
    rows = [(T0, 10.0, 12.0, 9.0, 11.0), (T0 + MIN, 11.0, 13.0, 10.0, 12.0)]
    feed = ReplayFeed("X/USDT", frame(rows))

    feed.seek_time(timestamp)

    assert next(feed).timestamp == expected


def test_replay_of_real_hourly_candles_with_outage_gaps() -> None:
    df = load_candles(shared_data("binance_BTC-USDT_1h.csv.gz"))
    feed = ReplayFeed("BTC/USDT", df)

    ticks = list(feed)

    assert (feed.timeframe_ms, feed.candle_count) == (3_600_000, 58_419)
    stamps = np.array([t.timestamp for t in ticks])
    assert (np.diff(stamps) > 0).all()
    # Every tick lies in a candle that exists: the 128 missing hours stay silent.
    hours = set(df["timestamp"].tolist())
    assert all(ts - ts % 3_600_000 in hours for ts in stamps[::97].tolist())
    owner = np.searchsorted(df["timestamp"].to_numpy(), stamps, side="right") - 1
    prices = np.array([float(t.last) for t in ticks])
    assert (prices >= df["low"].to_numpy()[owner]).all()
    assert (prices <= df["high"].to_numpy()[owner]).all()
    assert ticks[0].last == D("4261.48")


@pytest.mark.parametrize(
    ("columns", "speed", "fragment"),
    [(["open"], 1.0, "lack column"), ([], 0.0, "speed"), ([], 1.0, "no candles")],
)
def test_bad_replay_input_is_refused(columns: list[str], speed: float, fragment: str) -> None:
    df = frame([(T0, 1.0, 1.0, 1.0, 1.0)]).drop(columns=columns)
    if fragment == "no candles":
        df = df.iloc[:0]

    with pytest.raises(ValueError, match=fragment):
        ReplayFeed("X/USDT", df, speed)


@st.composite
def candle_rows(draw: st.DrawFn) -> list[tuple[int, float, float, float, float]]:
    rows = []
    ts = T0
    for _ in range(draw(st.integers(1, 30))):
        ts += MIN * draw(st.integers(1, 3))  # gaps of up to two missing candles
        o, c = draw(st.integers(100, 200)), draw(st.integers(100, 200))
        h = max(o, c) + draw(st.integers(0, 20))
        lo = min(o, c) - draw(st.integers(0, 20))
        rows.append((ts, float(o), float(h), float(lo), float(c)))
    return rows


@settings(max_examples=100, deadline=None)
@given(rows=candle_rows())
def test_replay_ticks_stay_inside_their_candle_open_first_close_last(
    rows: list[tuple[int, float, float, float, float]],
) -> None:
    ticks = list(ReplayFeed("X/USDT", frame(rows), timeframe_ms=MIN))

    stamps = [t.timestamp for t in ticks]
    assert stamps == sorted(set(stamps))
    for ts, o, h, lo, c in rows:
        mine = [float(t.last) for t in ticks if ts <= t.timestamp < ts + MIN]
        assert mine[0] == o and mine[-1] == c
        assert all(lo <= p <= h for p in mine)
        assert (lo in mine) and (h in mine)
    assert len(rows) <= len(ticks) <= 4 * len(rows)  # one to four ticks per candle


# ----------------------------------------------------------------------- paced


@pytest.mark.parametrize(
    ("speed", "cap", "expected"),
    [
        (1.0, None, [15.0, 15.0, 15.0, 15.0, 120.0]),
        (60.0, None, [0.25, 0.25, 0.25, 0.25, 2.0]),
        (60.0, 1.0, [0.25, 0.25, 0.25, 0.25, 1.0]),
    ],
)
async def test_paced_waits_market_time_over_speed(
    speed: float, cap: float | None, expected: list[float]
) -> None:
    rows = [
        (T0, 10.0, 12.0, 9.0, 11.0),
        (T0 + MIN, 11.0, 11.0, 11.0, 11.0),
        (T0 + 3 * MIN, 11, 11, 11, 11),
    ]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    feed = ReplayFeed("X/USDT", frame(rows), speed)
    ticks = [t async for t in paced(feed, sleep=sleep, max_delay_s=cap)]

    assert len(ticks) == 6
    assert waits == pytest.approx(expected)
