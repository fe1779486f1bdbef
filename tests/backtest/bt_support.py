"""Shared pieces of the backtest tests: synthetic candles, ledger checks."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from gridsup.backtest import BacktestResult
from gridsup.messages.common import Side


def candles_from_closes(closes: list[float], wick: float = 0.0, start_ms: int = 1_704_067_200_000):
    """Candles opening at the previous close, with wicks of ``wick`` beyond the body;
    the first candle is flat at ``closes[0]`` (the strategy's first price)."""
    opens = [closes[0], *closes[:-1]]
    rows = []
    for i, (o, c) in enumerate(zip(opens, closes, strict=True)):
        w = wick if i else 0.0
        rows.append(
            {
                "timestamp": start_ms + 60_000 * i,
                "open": o,
                "high": round(max(o, c) + w, 2),
                "low": round(max(min(o, c) - w, 0.01), 2),
                "close": c,
                "volume": 1.0,
            }
        )
    return pd.DataFrame(rows)


def replay_ledger(result: BacktestResult) -> tuple[list[Decimal], list[Decimal]]:
    """Quote and base held at the end of every candle, rebuilt from the trades alone.

    An independent account of the money: the engine's per-candle holdings must equal
    this at every step, so equity = quote + base x close holds at every step.
    """
    quote = result.initial_balances.get(result.quote, Decimal(0))
    base = result.initial_balances.get(result.base, Decimal(0))
    fills = sorted(result.fills, key=lambda t: (t.timestamp, int(t.id)))
    quotes, bases = [], []
    k = 0
    for ts in result.timestamps.tolist():
        while k < len(fills) and fills[k].timestamp <= ts:
            t = fills[k]
            if t.side is Side.BUY:
                quote -= t.amount * t.price + t.fee
                base += t.amount
            else:
                quote += t.amount * t.price - t.fee
                base -= t.amount
            k += 1
        quotes.append(quote)
        bases.append(base)
    assert k == len(fills), "a trade falls outside the candles"
    return quotes, bases


def assert_ledger_consistent(result: BacktestResult) -> None:
    """Holdings never negative and equal to the trade ledger at every candle; the
    final balances and equity are exactly what the ledger says."""
    quotes, bases = replay_ledger(result)
    assert min(quotes) >= 0
    assert min(bases) >= 0
    np.testing.assert_array_equal(result.cash, np.array([float(q) for q in quotes]))
    np.testing.assert_array_equal(result.base_held, np.array([float(b) for b in bases]))
    assert result.final_balances[result.quote] == quotes[-1]
    assert result.final_balances[result.base] == bases[-1]
    assert result.final_equity == quotes[-1] + bases[-1] * result.last_price
    expected = (
        np.array([float(q) for q in quotes]) + np.array([float(b) for b in bases]) * result.close
    )
    np.testing.assert_allclose(result.equity, expected, rtol=1e-12)
