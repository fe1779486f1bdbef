"""Binance spot v3 JSON shapes of the paper engine's value types, Binance's error
answers (``{"code": -2010, "msg": ...}``) for gridsup's exchange errors, and its
number parameters read with Binance's refusals (-1102 missing, -1100 malformed)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from gridsup.exchange import errors
from gridsup.exchange.types import Balance, Order, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = [
    "BinanceError",
    "binance_error_for",
    "decimal_field",
    "fixed",
    "int_field",
    "order_json",
    "trade_json",
]


class BinanceError(Exception):
    """An error answer: HTTP status, Binance code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def binance_error_for(exc: errors.ExchangeError) -> BinanceError:
    """The answer Binance gives where the paper engine raised ``exc``."""
    match exc:
        case errors.DuplicateOrder():
            return BinanceError(400, -2010, "Duplicate order sent.")
        case errors.InsufficientFunds():
            return BinanceError(
                400, -2010, "Account has insufficient balance for requested action."
            )
        case errors.OrderWouldTake():
            return BinanceError(400, -2010, "Order would immediately match and take.")
        case errors.BadSymbol():
            return BinanceError(400, -1121, "Invalid symbol.")
        case errors.InvalidOrder() if "no price known" in str(exc):
            # a market order before any trade: nothing in the book to fill it
            return BinanceError(
                400, -2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity."
            )
        case errors.BelowMinimum() | errors.InvalidOrder():
            return BinanceError(400, -1013, f"Filter failure: {_filter_for(str(exc))}")
        case errors.OrderNotFound():
            return BinanceError(400, -2013, "Order does not exist.")
        case _:
            return BinanceError(500, -1001, "Internal error; unable to process your request.")


def _filter_for(message: str) -> str:
    """The Binance filter a paper-engine refusal corresponds to (its message names it)."""
    if "notional" in message:
        return "NOTIONAL"
    if "tick size" in message or message.startswith("price"):
        return "PRICE_FILTER"
    return "LOT_SIZE"  # the lot step, the minimum amount, a non-positive amount


def decimal_field(params: dict[str, str], name: str, required: bool = True) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise BinanceError(
                400,
                -1102,
                f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
            )
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.") from None
    if not value.is_finite():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return value


def int_field(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(raw)


def fixed(value: Decimal) -> str:
    """Decimal text with at least Binance's 8 decimals, never an exponent, never rounded."""
    text = format(value, "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(8, '0')}"


def order_id_json(order_id: str) -> int | str:
    """Binance order ids are integers; the paper engine's are counter strings."""
    return int(order_id) if order_id.isdigit() else order_id


def _status(order: Order) -> str:
    match order.status:
        case OrderStatus.OPEN:
            return "PARTIALLY_FILLED" if order.filled > 0 else "NEW"
        case OrderStatus.CLOSED:
            return "FILLED"
        case OrderStatus.CANCELED:
            return "CANCELED"
        case OrderStatus.REJECTED:
            return "REJECTED"
        case OrderStatus.EXPIRED:
            return "EXPIRED"


def order_json(order: Order, symbol_id: str, *, fills: list[Trade] | None = None) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` (and the RESULT/FULL create answer) shows it."""
    quote_qty = (order.average or Decimal(0)) * order.filled
    data: dict[str, Any] = {
        "symbol": symbol_id,
        "orderId": order_id_json(order.id),
        "orderListId": -1,
        "clientOrderId": order.client_order_id or f"paper{order.id}",
        "price": fixed(order.price if order.price is not None else Decimal(0)),
        "origQty": fixed(order.amount),
        "executedQty": fixed(order.filled),
        "cummulativeQuoteQty": fixed(quote_qty),
        "status": _status(order),
        "timeInForce": "GTC",
        "type": "MARKET" if order.type is OrderType.MARKET else "LIMIT",
        "side": "BUY" if order.side is Side.BUY else "SELL",
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": order.timestamp,
        "updateTime": order.timestamp,
        "isWorking": True,
        "workingTime": order.timestamp,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if fills is not None:
        data["transactTime"] = order.timestamp
        data["fills"] = [
            {
                "price": fixed(t.price),
                "qty": fixed(t.amount),
                "commission": fixed(t.fee),
                "commissionAsset": t.fee_currency,
                "tradeId": order_id_json(t.id),
            }
            for t in fills
        ]
    return data


def trade_json(trade: Trade, symbol_id: str) -> dict[str, Any]:
    """One execution as ``GET /api/v3/myTrades`` lists it."""
    return {
        "symbol": symbol_id,
        "id": order_id_json(trade.id),
        "orderId": order_id_json(trade.order_id),
        "orderListId": -1,
        "price": fixed(trade.price),
        "qty": fixed(trade.amount),
        "quoteQty": fixed(trade.price * trade.amount),
        "commission": fixed(trade.fee),
        "commissionAsset": trade.fee_currency,
        "time": trade.timestamp,
        "isBuyer": trade.side is Side.BUY,
        "isMaker": not trade.taker,
        "isBestMatch": True,
    }


def account_json(balance: Balance, now_ms: int) -> dict[str, Any]:
    """``GET /api/v3/account``."""
    assets = sorted(set(balance.free) | set(balance.used))
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00100000",
            "taker": "0.00100000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": [
            {
                "asset": asset,
                "free": fixed(balance.free.get(asset, Decimal(0))),
                "locked": fixed(balance.used.get(asset, Decimal(0))),
            }
            for asset in assets
        ],
        "permissions": ["SPOT"],
        "uid": 1,
    }
