"""The exchange ``gridsup data fetch --exchange-factory store.cli_fakes:build`` uses in
tests: real Binance candles from ../shared/data behind the candle fake."""

from __future__ import annotations

from typing import Any

from gridsup.exchange.candles import load_candles
from helpers import shared_data

from .ohlcv_fakes import CandleExchange

CALLS: list[tuple[str, str, int | None, int | None]] = []


class CliExchange(CandleExchange):
    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        CALLS.extend(self.calls)


def build(exchange_id: str, url: str | None) -> Any:
    frame = load_candles(shared_data("binance_BTC-USDT_1m.csv.gz")).head(3000)
    exchange = CliExchange(frame, max_limit=1000)
    exchange.id = exchange_id
    return exchange
