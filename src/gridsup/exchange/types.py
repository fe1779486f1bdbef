"""Immutable value types that every ``Exchange`` returns (ccxt-backed, paper and
loopback alike). Money is ``Decimal``."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

import msgspec

from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

# A market's precision and limits are the same record the strategies size with.
Market = MarketInfo

__all__ = ["Balance", "Candle", "Market", "Order", "Ticker", "Trade", "candle_path"]

_P = TypeVar("_P", Decimal, float)


class Ticker(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    timestamp: int
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None


class Order(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    price: Decimal | None
    amount: Decimal
    filled: Decimal
    timestamp: int
    average: Decimal | None = None
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of one order (ccxt's "my trade")."""

    id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: int
    taker: bool = False


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """Free/used/total per asset."""

    free: dict[str, Decimal]
    used: dict[str, Decimal]

    def total(self, asset: str) -> Decimal:
        return self.free.get(asset, Decimal(0)) + self.used.get(asset, Decimal(0))


class Candle(msgspec.Struct, frozen=True, array_like=True):
    """One OHLCV candle; ``timestamp`` is its open time in ms."""

    timestamp: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def candle_path(open: _P, high: _P, low: _P, close: _P) -> tuple[_P, _P, _P, _P]:
    """The prices a candle is taken to have traded through, in order: open->low->high->close
    for an up candle (close >= open), open->high->low->close for a down one. The paper
    engine, the backtest and the replay feed all walk a candle this way."""
    return (open, low, high, close) if close >= open else (open, high, low, close)
