"""A hand-written fake exchange serving real candles from a DataFrame, ccxt style:
``fetch_ohlcv(since, limit)`` returns up to ``limit`` candles from ``since`` on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from gridsup.exchange.errors import ExchangeUnavailable
from gridsup.exchange.types import Candle


class CandleExchange:
    id = "fakex"

    def __init__(self, frame: pd.DataFrame, *, max_limit: int = 500) -> None:
        self.frame = frame.reset_index(drop=True)
        self.max_limit = max_limit
        self.calls: list[tuple[str, str, int | None, int | None]] = []
        self.fail_after: int | None = None  # raise on the call after this many

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ExchangeUnavailable("fake outage")
        self.calls.append((symbol, timeframe, since, limit))
        rows = self.frame
        if since is not None:
            rows = rows[rows["timestamp"] >= since]
        rows = rows.head(min(limit or self.max_limit, self.max_limit))
        return [
            Candle(
                int(r.timestamp),
                Decimal(repr(r.open)),
                Decimal(repr(r.high)),
                Decimal(repr(r.low)),
                Decimal(repr(r.close)),
                Decimal(repr(r.volume)),
            )
            for r in rows.itertuples()
        ]

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the candle fake has no {name}")
