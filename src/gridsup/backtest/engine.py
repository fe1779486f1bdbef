"""The backtest engine: one strategy, one paper account, a frame of candles.

Every candle the market traded through is walked along its intra-candle path
(open->low->high->close for an up candle, open->high->low->close for a down one):
each vertex is one price for the ``PaperExchange`` (limit orders the price reached
fill at their limit price) and one ``Tick`` for the strategy. Because each leg of the
path is monotone, feeding the vertices is exact: an order placed in reaction to a
fill on a leg lies on the far side of the price and cannot fill on that same leg.

The fast mode processes only the candles that can change anything. Between events the
state is frozen, so the next candle that matters is the first one whose low reaches
``band_lo = max(highest open buy, strategy band lo)`` or whose high reaches
``band_hi = min(lowest open sell, strategy band hi)``; it is found with a vectorised
search over growing chunks of the high/low arrays, and the equity of the skipped
candles is filled in with numpy. ``Mode.NAIVE`` feeds every candle and is the
reference the fast mode must match exactly.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridsup.backtest.context import BacktestContext
from gridsup.backtest.protocols import BacktestStrategy
from gridsup.backtest.report import BacktestResult, CandleArrays, build_result
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import candle_path
from gridsup.messages.market import MarketInfo, Tick

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")

# Chunks of the vectorised search: small first (the next event is often near), then
# doubling, so a long quiet stretch costs a few numpy calls, not one per candle.
FIRST_CHUNK = 64
MAX_CHUNK = 4096


# Called after each candle walked through the paper engine: (candle index, account).
Observer = Callable[[int, PaperExchange], None]


class Mode(enum.Enum):
    FAST = "fast"  # skip the candles that cannot change anything
    NAIVE = "naive"  # feed every candle (reference for the fast mode)


class BacktestError(ValueError):
    """The candles or balances cannot be backtested (empty, missing column, NaN...)."""


def run_backtest(
    strategy: BacktestStrategy,
    candles: pd.DataFrame,
    market: MarketInfo,
    balances: Mapping[str, Decimal],
    *,
    mode: Mode | str = Mode.FAST,
    name: str = "",
    observer: Observer | None = None,
) -> BacktestResult:
    """Drive ``strategy`` (not yet initialised) over ``candles`` through a fresh
    ``PaperExchange`` holding ``balances``, and report the outcome.

    ``candles`` has the columns of ``load_candles``: timestamp (ms), open, high, low,
    close, volume, sorted by time. ``observer(i, paper)`` is called after every
    candle walked (every candle in naive mode), for checks in tests.

    Raises:
        BacktestError: no candles, a missing column, a NaN or non-positive price.
    """
    arrays = candle_arrays(candles)
    run = _Run(strategy, arrays, market, balances, observer)
    if Mode(mode) is Mode.NAIVE:
        run.run_naive()
    else:
        run.run_fast()
    return build_result(
        name=name or getattr(strategy, "name", ""),
        strategy=strategy,
        market=market,
        arrays=arrays,
        initial_balances=balances,
        paper=run.paper,
        ctx=run.ctx,
        cash=run.cash,
        base=run.base,
        events=run.events,
    )


def candle_arrays(candles: pd.DataFrame) -> CandleArrays:
    """Check the frame and take its columns as numpy arrays.

    Raises:
        BacktestError: as ``run_backtest``.
    """
    missing = [c for c in COLUMNS[:5] if c not in candles.columns]
    if missing:
        raise BacktestError(f"candles lack the column(s) {', '.join(missing)}")
    if len(candles) == 0:
        raise BacktestError("no candles to backtest")
    prices = candles[["open", "high", "low", "close"]].to_numpy(np.float64)
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise BacktestError("candle prices must be finite and positive")
    timestamps = candles["timestamp"].to_numpy(np.int64)
    if len(timestamps) > 1 and (np.diff(timestamps) <= 0).any():
        raise BacktestError("candle timestamps must be strictly increasing")
    return CandleArrays(
        timestamp=timestamps,
        open=np.ascontiguousarray(prices[:, 0]),
        high=np.ascontiguousarray(prices[:, 1]),
        low=np.ascontiguousarray(prices[:, 2]),
        close=np.ascontiguousarray(prices[:, 3]),
    )


class _Run:
    """The state of one backtest run."""

    def __init__(
        self,
        strategy: BacktestStrategy,
        arrays: CandleArrays,
        market: MarketInfo,
        balances: Mapping[str, Decimal],
        observer: Observer | None = None,
    ) -> None:
        self.strategy = strategy
        self.observer = observer
        self.arrays = arrays
        self.symbol = market.symbol
        self.base_asset = market.base
        self.quote_asset = market.quote
        self._t = 0  # candle time, the paper exchange's clock
        self.paper = PaperExchange({market.symbol: market}, dict(balances), clock=lambda: self._t)
        self.ctx = BacktestContext(self.paper, market)
        self.ctx.bind(strategy)
        n = len(arrays.timestamp)
        self._n = n
        # Quote and base held (free + locked) at the end of every candle.
        self.cash: npt.NDArray[np.float64] = np.empty(n, dtype=np.float64)
        self.base: npt.NDArray[np.float64] = np.empty(n, dtype=np.float64)
        self._cash_now, self._base_now = self._holdings()
        self.events = 0  # candles walked in Python
        self._t = int(arrays.timestamp[0])
        self.ctx.set_time(self._t)
        strategy.initialize(self.ctx)
        self.ctx.dispatch()

    def _holdings(self) -> tuple[float, float]:
        balance = self.paper.balance()
        return float(balance.total(self.quote_asset)), float(balance.total(self.base_asset))

    # -- the two loops ------------------------------------------------------------

    def run_naive(self) -> None:
        for i in range(self._n):
            self._walk(i)
            self.cash[i] = self._cash_now
            self.base[i] = self._base_now

    def run_fast(self) -> None:
        n = self._n
        i = 0
        while i < n:
            self._walk(i)
            j = self._next_event(i + 1)
            # Nothing trades between events: the holdings of candle i hold until j.
            self.cash[i:j] = self._cash_now
            self.base[i:j] = self._base_now
            i = j

    # -- one candle ---------------------------------------------------------------

    def _walk(self, i: int) -> None:
        """Feed candle ``i``'s path to the paper exchange and the strategy."""
        self.events += 1
        # ``item`` gives Python scalars, and ``repr`` of a float is the shortest
        # text that reads back to it: the price exactly as the exchange printed it.
        # (Converting whole columns to lists up front costs more than the walk.)
        a = self.arrays
        ts = a.timestamp.item(i)
        o, h, lo, c = a.open.item(i), a.high.item(i), a.low.item(i), a.close.item(i)
        path = candle_path(o, h, lo, c)
        ctx, paper, strategy, symbol = self.ctx, self.paper, self.strategy, self.symbol
        self._t = ts
        ctx.set_time(ts)
        fills_before = ctx.stats.fills
        previous = math.nan
        for p in path:
            if p == previous:  # a flat leg (open == low, ...) adds nothing
                continue
            previous = p
            price = Decimal(repr(p))
            trades = paper.on_price(symbol, price, ts)
            if trades:
                ctx.on_trades(trades)
                ctx.dispatch()
            strategy.on_tick(Tick(symbol=symbol, timestamp=ts, last=price))
            ctx.dispatch()
        if ctx.stats.fills != fills_before:
            self._cash_now, self._base_now = self._holdings()
        if self.observer is not None:
            self.observer(i, paper)

    def _next_event(self, start: int) -> int:
        """Index of the first candle from ``start`` on that can change anything."""
        n = self._n
        if start >= n:
            return n
        band = self.strategy.tick_band()
        if band is None:
            return start
        band_lo, band_hi = band
        bid = self.paper.best_bid_order_price(self.symbol)
        if bid is not None:
            band_lo = max(band_lo, float(bid))
        ask = self.paper.best_ask_order_price(self.symbol)
        if ask is not None:
            band_hi = min(band_hi, float(ask))
        # float(Decimal) rounds to nearest and is monotone, so ``low <= band_lo`` in
        # floats holds whenever it holds exactly: a candle is never wrongly skipped
        # (at worst a quiet one is walked, which changes nothing).
        return _first_touch(self.arrays.low, self.arrays.high, band_lo, band_hi, start)


def _first_touch(
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    band_lo: float,
    band_hi: float,
    start: int,
) -> int:
    """First index >= start with ``low <= band_lo or high >= band_hi`` (len if none)."""
    n = len(low)
    size = FIRST_CHUNK
    while start < n:
        end = min(start + size, n)
        hit = (low[start:end] <= band_lo) | (high[start:end] >= band_hi)
        k = int(hit.argmax())
        if hit[k]:
            return start + k
        start = end
        size = min(size * 2, MAX_CHUNK)
    return n
