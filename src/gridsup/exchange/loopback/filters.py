"""Binance's spot symbol filters and symbol status, checked by the loopback exchange
before an order reaches the paper engine (realistic mode), with Binance's own codes
and messages: ``-1013 "Filter failure: <FILTER>"``, ``-2010 "Market is closed."``.

Checked in this order (as Binance lists them): symbol status, PRICE_FILTER (min, max,
tick), PERCENT_PRICE_BY_SIDE (limit orders, against the last price: the loopback has
no 5-minute average, so the last price stands for it), LOT_SIZE (min, max, step),
MARKET_LOT_SIZE (market orders: max), NOTIONAL / MIN_NOTIONAL (market orders at the
last price), MAX_NUM_ORDERS (open orders of the symbol). docs/exchange.md.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.messages.common import OrderType, Side

__all__ = ["SymbolStatus", "check_filters", "check_status"]


class SymbolStatus(enum.StrEnum):
    """Binance's ``status`` of a symbol in exchangeInfo (the ones the loopback models)."""

    TRADING = "TRADING"
    BREAK = "BREAK"
    HALT = "HALT"


def _failure(name: str) -> BinanceError:
    return BinanceError(400, -1013, f"Filter failure: {name}")


def check_status(status: SymbolStatus) -> None:
    """Refuse a new order when the symbol is not TRADING.

    Raises:
        BinanceError: -2010 "Market is closed."
    """
    if status is not SymbolStatus.TRADING:
        raise BinanceError(400, -2010, "Market is closed.")


def _off_step(value: Decimal, step: Decimal) -> bool:
    return bool(step) and value % step != 0


def check_filters(
    spec: SymbolSpec,
    side: Side,
    type: OrderType,
    amount: Decimal,
    price: Decimal | None,
    last: Decimal | None,
    open_orders: int,
) -> None:
    """Refuse an order that fails one of the symbol's filters (the first in order).

    Raises:
        BinanceError: -1013 naming the filter.
    """
    if price is not None and (
        price < spec.tick_size or price > spec.max_price or _off_step(price, spec.tick_size)
    ):
        raise _failure("PRICE_FILTER")
    if price is not None and last is not None:
        up, down = spec.percent_up, spec.percent_down
        if price > last * up or price < last * down:
            raise _failure("PERCENT_PRICE_BY_SIDE")
    if amount < spec.min_qty or amount > spec.max_qty or _off_step(amount, spec.step_size):
        raise _failure("LOT_SIZE")
    if type is OrderType.MARKET and amount > spec.market_max_qty:
        raise _failure("MARKET_LOT_SIZE")
    at = price if price is not None else last
    if at is not None and amount * at < spec.min_notional:
        raise _failure("MIN_NOTIONAL" if spec.legacy_min_notional else "NOTIONAL")
    if type is OrderType.LIMIT and open_orders >= spec.max_num_orders:
        raise _failure("MAX_NUM_ORDERS")
    del side  # one band for both sides: the published multipliers are equal
