"""Price sources for offline mode and the loopback exchange.

- :class:`SyntheticWalk`: a seeded geometric random walk, prices rounded to a
  tick size; the same seed gives the same ticks on every run and after a seek.
- :class:`ReplayFeed`: a candle file replayed as ticks along each candle's
  intra-candle path (open->low->high->close for up candles, open->high->low->close
  for down ones, as the backtest walks them); a missing candle is simply no trading.

Both are plain iterators of :class:`~gridsup.messages.market.Tick` that never
sleep: the caller paces them (:func:`paced` does it for asyncio, at the feed's
``speed``). Both report a ``position`` and can ``seek`` to it (or to a time), so
a restarted replay continues where it stopped.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Protocol

import numpy as np

from gridsup.exchange.types import Candle, candle_path
from gridsup.messages.market import Tick

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_START_MS", "ReplayFeed", "SyntheticWalk", "TickFeed", "paced"]

DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC: deterministic, not the wall clock
_BLOCK = 1024  # random increments are drawn per block, seeded by (seed, block)
_PATH_POINTS = 4  # open, low/high, high/low, close


class TickFeed(Protocol):
    """What :func:`paced` and the market-data actor need of a price source."""

    symbol: str
    speed: float

    def __iter__(self) -> Iterator[Tick]: ...

    def __next__(self) -> Tick: ...

    @property
    def position(self) -> int: ...

    def seek(self, position: int) -> None: ...

    def seek_time(self, timestamp: int) -> None: ...


def _price(value: float, tick: Decimal) -> Decimal:
    """``value`` rounded to a multiple of ``tick``, at least one tick."""
    steps = (Decimal(repr(value)) / tick).to_integral_value(ROUND_HALF_EVEN)
    return max(steps, Decimal(1)) * tick


class SyntheticWalk:
    """A seeded geometric random walk: ``p[n+1] = p[n] * exp(vol*z - vol**2/2)``.

    The drift correction keeps the expected price constant. Ticks are ``step_ms``
    apart from ``start_ms``; ``position`` counts ticks produced. Increments are
    drawn in blocks from a generator seeded by ``(seed, block)`` and summed in
    a fixed order, so a seek reproduces the sequential path bit for bit.
    """

    def __init__(
        self,
        symbol: str,
        start_price: Decimal,
        seed: int,
        volatility: float = 0.001,
        step_ms: int = 1_000,
        *,
        tick_size: Decimal = Decimal("0.01"),
        start_ms: int = DEFAULT_START_MS,
        speed: float = 1.0,
    ) -> None:
        """Raises:
        ValueError: a non-positive price, tick, step or speed, a negative
            volatility or seed.
        """
        if not start_price > 0 or not tick_size > 0:
            raise ValueError("start_price and tick_size must be positive")
        if step_ms <= 0 or speed <= 0 or volatility < 0 or seed < 0:
            raise ValueError("step_ms and speed must be positive, volatility and seed >= 0")
        self.symbol = symbol
        self.start_price = start_price
        self.seed = seed
        self.volatility = volatility
        self.step_ms = step_ms
        self.tick_size = tick_size
        self.start_ms = start_ms
        self.speed = speed
        self._log0 = math.log(float(start_price))
        self._pos = 0
        self._block = 0
        self._base = 0.0  # sum of the increments of all blocks before ``_block``
        self._cum = self._cumulative(0)

    def __repr__(self) -> str:
        return f"SyntheticWalk({self.symbol!r}, seed={self.seed}, position={self._pos})"

    def _cumulative(self, block: int) -> np.ndarray:
        z = np.random.default_rng([self.seed, block]).standard_normal(_BLOCK)
        vol = self.volatility
        return np.cumsum(vol * z - vol * vol / 2)

    def __iter__(self) -> Iterator[Tick]:
        return self

    def __next__(self) -> Tick:
        """The next tick (the walk never ends)."""
        j = self._pos - self._block * _BLOCK
        if j == _BLOCK:
            self._base += float(self._cum[-1])
            self._block += 1
            self._cum = self._cumulative(self._block)
            j = 0
        log = self._log0 + self._base + (float(self._cum[j - 1]) if j else 0.0)
        tick = Tick(
            symbol=self.symbol,
            timestamp=self.start_ms + self._pos * self.step_ms,
            last=_price(math.exp(log), self.tick_size),
        )
        self._pos += 1
        return tick

    def take(self, count: int) -> list[Tick]:
        """The next ``count`` ticks."""
        return [next(self) for _ in range(count)]

    @property
    def position(self) -> int:
        """Ticks produced so far (the index of the next tick)."""
        return self._pos

    def seek(self, position: int) -> None:
        """Continue from tick ``position`` as if the walk had run to it.

        Raises:
            ValueError: ``position`` is negative.
        """
        if position < 0:
            raise ValueError(f"position must be >= 0, got {position}")
        block = position // _BLOCK
        base = 0.0
        for k in range(block):  # same order of additions as the sequential walk
            base += float(self._cumulative(k)[-1])
        self._pos, self._block, self._base = position, block, base
        self._cum = self._cumulative(block)

    def seek_time(self, timestamp: int) -> None:
        """Continue from the first tick at or after ``timestamp`` (ms)."""
        self.seek(max(0, -(-(timestamp - self.start_ms) // self.step_ms)))

    def next_candle(self, ticks: int) -> Candle:
        """Aggregate the next ``ticks`` ticks into one candle (open time = first tick).

        Volume is synthetic but deterministic: the path length in units of the
        volatility, so busy candles trade more.

        Raises:
            ValueError: ``ticks`` < 1.
        """
        if ticks < 1:
            raise ValueError("a candle needs at least one tick")
        prices = [t.last for t in self.take(ticks)]
        moved = sum(abs(b - a) / a for a, b in itertools.pairwise(prices))
        scale = Decimal(repr(self.volatility)) if self.volatility else Decimal(1)
        volume = (Decimal(1) + moved / scale).quantize(Decimal("0.001"))
        timestamp = self.start_ms + (self._pos - ticks) * self.step_ms
        return Candle(timestamp, prices[0], max(prices), min(prices), prices[-1], volume)

    def candle_frame(self, count: int, ticks: int) -> pd.DataFrame:
        """``count`` candles of ``ticks`` ticks each, as a frame in the candle-file
        format of ``gridsup.exchange.candles`` (ready for ``save_candles``)."""
        import pandas as pd  # only callers that build files pay for pandas

        rows = [self.next_candle(ticks) for _ in range(count)]
        return pd.DataFrame(
            {
                "timestamp": np.array([c.timestamp for c in rows], dtype=np.int64),
                "open": [float(c.open) for c in rows],
                "high": [float(c.high) for c in rows],
                "low": [float(c.low) for c in rows],
                "close": [float(c.close) for c in rows],
                "volume": [float(c.volume) for c in rows],
            }
        )


class ReplayFeed:
    """Candles replayed as ticks along their intra-candle path.

    Each candle yields up to four ticks (a flat leg, e.g. open == low, adds no
    tick), spread over the candle's time so timestamps strictly increase.
    ``position`` is ``4 * candle + point``: stable across restarts.
    """

    def __init__(
        self,
        symbol: str,
        candles_df: pd.DataFrame,
        speed: float = 1.0,
        *,
        timeframe_ms: int | None = None,
    ) -> None:
        """``candles_df`` is a frame as ``load_candles`` returns it. The timeframe
        is the smallest step between candles unless given.

        Raises:
            ValueError: a missing column, no candles, or a non-positive speed.
        """
        missing = {"timestamp", "open", "high", "low", "close"} - set(candles_df.columns)
        if missing:
            raise ValueError(f"candles lack column(s) {', '.join(sorted(missing))}")
        if len(candles_df) == 0:
            raise ValueError("no candles to replay")
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.symbol = symbol
        self.speed = speed
        self._ts: list[int] = [int(t) for t in candles_df["timestamp"].to_numpy()]
        self._ohlc = [
            [float(x) for x in candles_df[c].to_numpy()] for c in ("open", "high", "low", "close")
        ]
        steps = np.diff(np.asarray(self._ts, dtype=np.int64))
        self.timeframe_ms = timeframe_ms or (int(steps[steps > 0].min()) if steps.size else 60_000)
        self._pos = 0

    def __repr__(self) -> str:
        return f"ReplayFeed({self.symbol!r}, candles={len(self._ts)}, position={self._pos})"

    @property
    def candle_count(self) -> int:
        """Number of candles replayed (ticks are up to four per candle)."""
        return len(self._ts)

    def __iter__(self) -> Iterator[Tick]:
        return self

    def _path(self, candle: int) -> tuple[float, float, float, float]:
        o, h, lo, c = (col[candle] for col in self._ohlc)
        return candle_path(o, h, lo, c)

    def __next__(self) -> Tick:
        """The next tick along the path; StopIteration after the last candle."""
        while self._pos < _PATH_POINTS * len(self._ts):
            candle, point = divmod(self._pos, _PATH_POINTS)
            self._pos += 1
            path = self._path(candle)
            if point and path[point] == path[point - 1]:
                continue  # a flat leg: the price did not move
            return Tick(
                symbol=self.symbol,
                timestamp=self._ts[candle] + point * self.timeframe_ms // _PATH_POINTS,
                last=Decimal(repr(path[point])),
            )
        raise StopIteration

    @property
    def position(self) -> int:
        """Index of the next path point (``4 * candle + point``)."""
        return self._pos

    @property
    def exhausted(self) -> bool:
        """Whether every candle has been replayed."""
        return self._pos >= _PATH_POINTS * len(self._ts)

    def seek(self, position: int) -> None:
        """Continue from path point ``position`` (a value of :attr:`position`).

        Raises:
            ValueError: ``position`` is negative.
        """
        if position < 0:
            raise ValueError(f"position must be >= 0, got {position}")
        self._pos = min(position, _PATH_POINTS * len(self._ts))

    def seek_time(self, timestamp: int) -> None:
        """Continue from the first path point at or after ``timestamp`` (ms)."""
        candle = bisect.bisect_right(self._ts, timestamp) - 1
        if candle < 0:
            self._pos = 0
            return
        offset = timestamp - self._ts[candle]
        point = -(-offset * _PATH_POINTS // self.timeframe_ms)  # ceil
        self._pos = (
            candle * _PATH_POINTS + point if point < _PATH_POINTS else (candle + 1) * _PATH_POINTS
        )


async def paced(
    feed: TickFeed,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    max_delay_s: float | None = None,
) -> AsyncIterator[Tick]:
    """Yield ``feed``'s ticks, waiting between them the market time divided by
    the feed's ``speed`` (capped at ``max_delay_s``, e.g. across a replay gap)."""
    previous: int | None = None
    for tick in feed:
        if previous is not None:
            delay = max(0.0, (tick.timestamp - previous) / 1000 / feed.speed)
            if max_delay_s is not None:
                delay = min(delay, max_delay_s)
            await sleep(delay)
        previous = tick.timestamp
        yield tick
