"""Binance spot websocket JSON shapes: the user-data ``executionReport`` (every field
ccxt's ``binance`` pro class reads, and the rest of Binance's documented ones), the
``24hrTicker`` / ``24hrMiniTicker`` and ``trade`` market events, and the WebSocket API's
answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridsup.exchange.loopback.state import DayStats
from gridsup.exchange.loopback.wire import fixed, order_id_json
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = [
    "execution_report",
    "mini_ticker_json",
    "public_trade_json",
    "ticker_json",
    "user_event",
    "ws_api_error",
    "ws_api_result",
]

_STATUS = {
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
}


def execution_report(
    order: Order, symbol_id: str, trade: Trade | None, order_trades: list[Trade], now_ms: int
) -> dict[str, Any]:
    """One ``executionReport``: the order as a trade left it (cumulative quantities up
    to and including ``trade``), or as a placement/cancel left it (``trade`` None)."""
    if trade is not None:
        upto = order_trades[: next(i for i, t in enumerate(order_trades) if t.id == trade.id) + 1]
        filled = sum((t.amount for t in upto), Decimal(0))
        quote = sum((t.amount * t.price for t in upto), Decimal(0))
        execution = "TRADE"
        status = "FILLED" if filled >= order.amount else "PARTIALLY_FILLED"
        when = trade.timestamp
    else:
        final = _STATUS.get(order.status)
        # A placement (also of an order that traded at once: its trades follow as events).
        execution = final or "NEW"
        status = final or "NEW"
        done = order_trades if final else []
        filled = sum((t.amount for t in done), Decimal(0))
        quote = sum((t.amount * t.price for t in done), Decimal(0))
        when = now_ms if final else order.timestamp
    return {
        "e": "executionReport",
        "E": now_ms,
        "s": symbol_id,
        "c": order.client_order_id or f"paper{order.id}",
        "S": "BUY" if order.side is Side.BUY else "SELL",
        "o": "MARKET" if order.type is OrderType.MARKET else "LIMIT",
        "f": "GTC",
        "q": fixed(order.amount),
        "p": fixed(order.price if order.price is not None else Decimal(0)),
        "P": "0.00000000",
        "F": "0.00000000",
        "g": -1,
        "C": "" if execution != "CANCELED" else (order.client_order_id or ""),
        "x": execution,
        "X": status,
        "r": "NONE",
        "i": order_id_json(order.id),
        "l": fixed(trade.amount) if trade else "0.00000000",
        "z": fixed(filled),
        "L": fixed(trade.price) if trade else "0.00000000",
        "n": fixed(trade.fee) if trade else "0",
        "N": trade.fee_currency if trade else None,
        "T": when,
        "t": order_id_json(trade.id) if trade else -1,
        "v": 0,
        "I": 0,
        "w": status in ("NEW", "PARTIALLY_FILLED"),
        "m": (not trade.taker) if trade else False,
        "M": False,
        "O": order.timestamp,
        "Z": fixed(quote),
        "Y": fixed(trade.amount * trade.price) if trade else "0.00000000",
        "Q": "0.00000000",
        "W": order.timestamp,
        "V": "EXPIRE_MAKER",
    }


def ticker_json(
    symbol_id: str,
    last: Decimal,
    day: DayStats,
    tick: Decimal,
    now_ms: int,
) -> dict[str, Any]:
    """A ``<symbol>@ticker`` event (24hrTicker); bid = last, ask = last + one tick."""
    open_, high, low, volume, open_time = day
    change = last - open_
    percent = (change / open_ * 100).quantize(Decimal("0.001")) if open_ else Decimal(0)
    return {
        "e": "24hrTicker",
        "E": now_ms,
        "s": symbol_id,
        "p": fixed(change),
        "P": str(percent),
        "w": fixed(last),
        "x": fixed(open_),
        "c": fixed(last),
        "Q": "0.00000000",
        "b": fixed(last),
        "B": "1.00000000",
        "a": fixed(last + tick),
        "A": "1.00000000",
        "o": fixed(open_),
        "h": fixed(high),
        "l": fixed(low),
        "v": fixed(volume),
        "q": fixed(volume * last),
        "O": open_time,
        "C": now_ms,
        "F": 0,
        "L": 0,
        "n": 0,
    }


def mini_ticker_json(
    symbol_id: str,
    last: Decimal,
    day: DayStats,
    now_ms: int,
) -> dict[str, Any]:
    """A ``<symbol>@miniTicker`` event (24hrMiniTicker)."""
    open_, high, low, volume, _ = day
    return {
        "e": "24hrMiniTicker",
        "E": now_ms,
        "s": symbol_id,
        "c": fixed(last),
        "o": fixed(open_),
        "h": fixed(high),
        "l": fixed(low),
        "v": fixed(volume),
        "q": fixed(volume * last),
    }


def public_trade_json(
    symbol_id: str, trade_id: int, price: Decimal, timestamp: int, now_ms: int
) -> dict[str, Any]:
    """A ``<symbol>@trade`` event: the market traded at ``price``."""
    return {
        "e": "trade",
        "E": now_ms,
        "s": symbol_id,
        "t": trade_id,
        "p": fixed(price),
        "q": "0.00000000",
        "T": timestamp,
        "m": False,
        "M": True,
    }


def ws_api_result(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "status": 200, "result": result}


def ws_api_error(request_id: Any, status: int, code: int, msg: str) -> dict[str, Any]:
    return {"id": request_id, "status": status, "error": {"code": code, "msg": msg}}


def user_event(subscription_id: int, event: Any) -> dict[str, Any]:
    """A user-data event as a WebSocket API subscription delivers it: wrapped."""
    return {"subscriptionId": subscription_id, "event": event}
