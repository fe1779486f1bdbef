"""PaperExchange speed: the matching engine's own costs, without any strategy.

Prints, over the BTC/USDT 5m candles of ../shared/data (or ``--file``), median of
``--runs`` runs:
- ``on_candle`` on every candle, for a 20-level ladder that re-places the counter
  order of every fill (with and without partial fills);
- ``on_price`` calls that reach no order (the backtest's common case);
- create + cancel pairs and create + fill cycles;
- ``ReplayFeed`` and ``SyntheticWalk`` ticks per second;
- a baseline measured in the same run: a bare Python loop over the same candles
  doing the same two float comparisons the engine's fast path does, and the ratio.

Run:  .venv/bin/python bench/paper.py [--file PATH] [--runs 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from figures import median_s
from gridsup.exchange.candles import decimal_price, load_candles
from gridsup.exchange.feeds import ReplayFeed, SyntheticWalk
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
D = Decimal
SYMBOL = "BTC/USDT"
MARKET = MarketInfo(
    symbol=SYMBOL, base="BTC", quote="USDT", price_step=D("0.01"), amount_step=D("0.00001")
)
Row = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


def median_rate(count: int, runs: int, work: Callable[[], object]) -> float:
    """``count`` (what one call of ``work`` does) per second, at the median of ``runs``."""
    return count / median_s(runs, work)


def ladder(rows: list[Row], partial: bool) -> int:
    """A 20-level grid on the engine alone; returns the number of fills."""
    ex = PaperExchange({SYMBOL: MARKET}, {"USDT": D(10**7), "BTC": D(100)}, partial_fills=partial)
    low = min(r[3] for r in rows)
    high = max(r[2] for r in rows)
    step = ((high - low) / 20).quantize(D("0.01"))
    levels = [low + i * step for i in range(21)]
    first = rows[0][1]
    for i, level in enumerate(levels[:-1]):
        if level < first:
            ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), level)
        else:
            ex.create_order(SYMBOL, Side.SELL, OrderType.LIMIT, D("0.1"), levels[i + 1])
    fills = 0
    for ts, o, h, lo, c, v in rows:
        for trade in ex.on_candle(SYMBOL, ts, o, h, lo, c, v):
            fills += 1
            order = ex.fetch_order(trade.order_id)
            if order.status is not OrderStatus.CLOSED:
                continue
            k = levels.index(trade.price)
            side, price = (
                (Side.SELL, levels[k + 1]) if trade.side is Side.BUY else (Side.BUY, levels[k - 1])
            )
            ex.create_order(SYMBOL, side, OrderType.LIMIT, order.filled, price)
    return fills


def baseline(lows: list[float], highs: list[float], bid: float, ask: float) -> int:
    """The floor of any per-candle Python loop: two float comparisons per candle."""
    hits = 0
    for lo, hi in zip(lows, highs, strict=True):
        if lo <= bid or hi >= ask:
            hits += 1
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DATA / "binance_BTC-USDT_5m.csv.gz")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    frame = load_candles(args.file)
    rows: list[Row] = [
        (int(r[0]), *(decimal_price(x) for x in r[1:]))  # type: ignore[misc]
        for r in frame.itertuples(index=False)
    ]
    n = len(rows)
    print(f"{args.file.name}: {n:,} candles, median of {args.runs} runs")

    fills = ladder(rows, False)
    for partial in (False, True):
        rate = median_rate(n, args.runs, lambda p=partial: ladder(rows, p))  # type: ignore[misc]
        print(f"  on_candle, 20-level ladder (partial={partial}): {rate:>12,.0f} candles/s")
    print(f"    ({fills} fills per run)")

    quiet = PaperExchange({SYMBOL: MARKET}, {"USDT": D(10**6)})
    quiet.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D(100))
    price = D("50000")

    def prices_only() -> None:
        on_price = quiet.on_price
        for i in range(n):
            on_price(SYMBOL, price, i)

    rate = median_rate(n, args.runs, prices_only)
    print(f"  on_price reaching no order:            {rate:>12,.0f} calls/s")

    def create_cancel(count: int = 20_000) -> None:
        ex = PaperExchange({SYMBOL: MARKET}, {"USDT": D(10**6)})
        for i in range(count):
            ex.cancel_order(
                ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D(100 + i % 50)).id
            )

    def create_fill(count: int = 20_000) -> None:
        ex = PaperExchange({SYMBOL: MARKET}, {"USDT": D(10**6)})
        for i in range(count):
            ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.001"), D(200))
            ex.on_price(SYMBOL, D(200), i)

    rate = median_rate(20_000, args.runs, create_cancel)
    print(f"  create + cancel:                       {rate:>12,.0f} pairs/s")
    rate = median_rate(20_000, args.runs, create_fill)
    print(f"  create + fill (on_price):              {rate:>12,.0f} fills/s")

    ticks = sum(1 for _ in ReplayFeed(SYMBOL, frame))
    rate = median_rate(ticks, args.runs, lambda: sum(1 for _ in ReplayFeed(SYMBOL, frame)))
    print(f"  ReplayFeed:                            {rate:>12,.0f} ticks/s")
    rate = median_rate(100_000, args.runs, lambda: SyntheticWalk(SYMBOL, D(42000), 1).take(100_000))
    print(f"  SyntheticWalk:                         {rate:>12,.0f} ticks/s")

    lows, highs = frame["low"].tolist(), frame["high"].tolist()
    bid, ask = float(min(lows)) - 1, float(max(highs)) + 1
    base = median_rate(n, args.runs, lambda: baseline(lows, highs, bid, ask))

    def candles_only() -> None:
        on_candle = quiet.on_candle
        for ts, o, h, lo, c, v in rows:
            on_candle(SYMBOL, ts, o, h, lo, c, v)

    engine = median_rate(n, args.runs, candles_only)
    print(f"  baseline, bare float loop:             {base:>12,.0f} candles/s")
    print(
        f"  on_candle reaching no order:           {engine:>12,.0f} candles/s"
        f"  ({engine / base:.2f} x the bare loop)"
    )


if __name__ == "__main__":
    main()
