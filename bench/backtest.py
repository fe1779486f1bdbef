"""Backtest speed: candles per second for one 20-level grid over the largest candle file.

Prints, for the file in ../shared/data with the most candles (or ``--file``):
- the fast engine (band skipping), median of ``--runs`` runs;
- the naive loop (every candle walked through the paper engine), for reference;
- a baseline measured in the same run: one vectorised pandas pass over the same
  candles (typical price, a 20-candle rolling mean, running peak and drawdown of the
  close), and the ratio backtest time / pandas pass time.

Run:  .venv/bin/python bench/backtest.py [--file PATH] [--runs 7] [--all]
"""

from __future__ import annotations

import argparse
import gzip
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd

from figures import median_s
from gridsup.backtest import Mode, run_backtest
from gridsup.exchange.candles import load_candles
from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TARGET = 1_000_000  # candles/s (issue 2)


def rows(path: Path) -> int:
    with gzip.open(path, "rt") as f:
        return sum(1 for _ in f) - 1


def symbol_of(path: Path) -> tuple[str, str]:
    # binance_BTC-USDT_5m.csv.gz -> ("BTC", "USDT")
    pair = path.name.split("_")[1]
    base, quote = pair.split("-")
    return base, quote


def setup(
    path: Path, candles: pd.DataFrame
) -> tuple[MarketInfo, Callable[[], GridTradingStrategy]]:
    """A 20-level grid over the 10 %..90 % range of the closes, with Binance-like steps."""
    base, quote = symbol_of(path)
    lower, upper = candles["close"].quantile([0.1, 0.9]).round(0).tolist()
    # A lot size worth about 0.1-1 quote at the median price, like Binance's.
    digits = math.floor(math.log10(float(candles["close"].median()))) + 1
    market = MarketInfo(
        symbol=f"{base}/{quote}",
        base=base,
        quote=quote,
        price_step=Decimal("0.01"),
        amount_step=Decimal(10) ** -digits,
        min_notional=Decimal("5"),
    )
    config = GridConfig(
        name="bench",
        symbol=market.symbol,
        lower_price=Decimal(str(lower)),
        upper_price=Decimal(str(upper)),
        num_grids=20,
        total_investment=Decimal("10000"),
    )
    return market, lambda: GridTradingStrategy(config)


def pandas_pass(df: pd.DataFrame) -> pd.DataFrame:
    """One vectorised pass over OHLC: what "reading the candles once" costs in pandas."""
    typical = (df["high"] + df["low"] + df["close"]) / 3
    peak = df["close"].cummax()
    return pd.DataFrame(
        {"sma20": typical.rolling(20).mean(), "peak": peak, "drawdown": 1 - df["close"] / peak}
    )


def bench(path: Path, runs: int) -> None:
    candles = load_candles(path)
    n = len(candles)
    market, make = setup(path, candles)
    balances = {market.quote: Decimal("10000")}
    result = run_backtest(make(), candles, market, balances)

    def fast() -> object:
        return run_backtest(make(), candles, market, balances)

    def naive() -> object:
        return run_backtest(make(), candles, market, balances, mode=Mode.NAIVE)

    t_fast = median_s(runs, fast)
    t_naive = median_s(max(1, runs // 3), naive)
    t_pandas = median_s(runs, lambda: pandas_pass(candles))
    print(
        f"{path.name}: {n:,} candles, grid {market.symbol} {result.levels[0]}..{result.levels[-1]}"
        f" x 20 levels"
    )
    print(
        f"  trades {result.trades}, completed cycles {result.completed_cycles}, "
        f"candles walked {result.events:,} ({result.events / n:.2%})"
    )
    verdict = "meets" if n / t_fast >= TARGET else "MISSES"
    print(
        f"  fast backtest : {t_fast * 1e3:8.1f} ms  {n / t_fast:>12,.0f} candles/s "
        f"({verdict} the {TARGET:,}/s target)"
    )
    print(
        f"  naive loop    : {t_naive * 1e3:8.1f} ms  {n / t_naive:>12,.0f} candles/s "
        f"(fast is {t_naive / t_fast:.0f}x)"
    )
    print(f"  pandas pass   : {t_pandas * 1e3:8.1f} ms  {n / t_pandas:>12,.0f} candles/s")
    print(f"  ratio fast backtest / pandas pass: {t_fast / t_pandas:.1f}x the time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="a candle file (default: the largest)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--all", action="store_true", help="every candle file")
    args = parser.parse_args()
    if args.file:
        files = [args.file]
    else:
        found = sorted(DATA.glob("binance_*.csv.gz"), key=rows, reverse=True)
        if not found:
            raise SystemExit(f"no candle files in {DATA}")
        files = found if args.all else found[:1]
    for path in files:
        bench(path, args.runs)


if __name__ == "__main__":
    main()
