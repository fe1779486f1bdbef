"""Bybit v5's wire: where it lives, how a private request is signed (X-BAPI-API-KEY,
-TIMESTAMP, -RECV-WINDOW, -SIGN over timestamp + key + window + query or body), its
answers (``{"retCode": 0, "retMsg": "OK", "result": {...}}``, errors as HTTP 200 with a
non-zero retCode), its limit headers and answers to limits and injected faults, and the
shapes of orders and executions as ccxt's recorded answers show them
(shared/data/ccxt-static/bybit.json)."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import json_answer, state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.venue_common import VenueDialect, VenueError, num
from gridsup.exchange.loopback.venue_limits import Admission, Refusal
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType

__all__ = [
    "DIALECT",
    "KEY_HEADER",
    "PREFIX",
    "BybitError",
    "fault_answer",
    "limit_answer",
    "limit_headers",
    "ok",
    "order_json",
    "signed_request",
    "symbol_id",
    "trade_json",
]

PREFIX = "/v5/"
KEY_HEADER = "X-BAPI-API-KEY"


class BybitError(VenueError):
    """A Bybit error answer (HTTP 200 with a non-zero retCode, as Bybit answers)."""

    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status

    def answer(self, now_ms: int) -> web.Response:
        body = {
            "retCode": self.code,
            "retMsg": self.msg,
            "result": {},
            "retExtInfo": {},
            "time": now_ms,
        }
        return json_answer(body, self.status)


def _error_for(exc: errors.ExchangeError) -> BybitError:
    match exc:
        case errors.DuplicateOrder():
            return BybitError(170141, "Duplicate clientOrderId.")
        case errors.InsufficientFunds():
            return BybitError(170131, "Insufficient balance.")
        case errors.BadSymbol():
            return BybitError(170121, "Invalid symbol.")
        case errors.OrderNotFound():
            return BybitError(170213, "Order does not exist.")
        case errors.BelowMinimum():
            return BybitError(170140, "Order value exceeded lower limit.")
        case errors.InvalidOrder():
            return BybitError(170135, f"Order quantity or price invalid: {exc}")
        case _:
            return BybitError(10016, "Internal server error.")


_LIMIT, _STATUS, _RESET = "X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp"


def _too_many(limit: int, reset_ms: int, extra: dict[str, str] | None = None) -> web.Response:
    body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}}
    headers = {_LIMIT: str(limit), _STATUS: "0", _RESET: str(reset_ms), **(extra or {})}
    return json_answer(body, 200, headers)


def _ip_banned(extra: dict[str, str] | None = None) -> web.Response:
    """Bybit's IP ban: HTTP 403 "access too frequent" (not JSON; ccxt: a rate limit)."""
    return web.Response(status=403, text="403, access too frequent", headers=extra)


def limit_answer(refusal: Refusal) -> web.Response:
    """Bybit's answer past a limit: retCode 10006 with the endpoint's limit headers (the
    reset timestamp: when a retry is admitted), or the IP ban's 403."""
    if refusal.banned:
        return _ip_banned()
    return _too_many(refusal.limit, refusal.retry_at_ms)


def limit_headers(response: web.StreamResponse, admission: Admission) -> None:
    """Every answer of a limited endpoint carries its limit, what is left of it and
    (not exceeded) the current time as the reset timestamp."""
    if admission.limit:
        response.headers[_LIMIT] = str(admission.limit)
        response.headers[_STATUS] = str(admission.remaining)
        response.headers[_RESET] = str(admission.now_ms)


def fault_answer(fault: Fault) -> web.Response:
    """Bybit's answer to an injected fault: 10006 "Too many visits" (HTTP 200, with its
    limit headers), 403 for a ban, 10002 for a timestamp out of the window."""
    retry_after = str(getattr(fault, "retry_after", 1))
    if isinstance(fault, Banned):
        return _ip_banned({"Retry-After": retry_after})
    if isinstance(fault, RateLimit):
        return _too_many(20, 0, {"Retry-After": retry_after})
    return json_answer(
        {
            "retCode": 10002,
            "retMsg": "invalid request, please check your server timestamp or recv_window param",
            "result": {},
        }
    )


def symbol_id(spec: SymbolSpec) -> str:
    return f"{spec.base}{spec.quote}"


DIALECT = VenueDialect(
    prefix=PREFIX,
    market_id=symbol_id,
    unknown_market=lambda: BybitError(10001, "params error: symbol invalid"),
    error_for=_error_for,
)


async def signed_request(request: web.Request) -> dict[str, Any]:
    """Check Bybit's v5 signature; return the query (GET) or the JSON body (POST).

    Raises:
        BybitError: 10003 unknown key, 10004 bad signature, 10002 timestamp outside
            the receive window.
    """
    state = state_of(request)
    headers = request.headers
    key = headers.get("X-BAPI-API-KEY", "")
    secret = state.keys.get(key)
    if secret is None:
        raise BybitError(10003, "API key is invalid.", 401)
    stamp, window = headers.get("X-BAPI-TIMESTAMP", ""), headers.get("X-BAPI-RECV-WINDOW", "5000")
    if not stamp.isdigit() or not window.isdigit():
        raise BybitError(10002, "invalid request, please check your server timestamp")
    now = state.clock()
    if int(stamp) > now + 1000 or now - int(stamp) > int(window):
        raise BybitError(10002, "invalid request, please check your server timestamp")
    body = await request.text() if request.can_read_body else ""
    payload = stamp + key + window + (body if request.method == "POST" else request.query_string)
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("X-BAPI-SIGN", "")):
        raise BybitError(10004, "error sign! origin_string[...]")
    if request.method == "POST":
        try:
            data: dict[str, Any] = json.loads(body or "{}")
        except ValueError:
            raise BybitError(10001, "params error: body is not JSON") from None
        return data
    return dict(request.query)


def ok(result: Any, now: int) -> web.Response:
    return json_answer(
        {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}
    )


# -- shapes -----------------------------------------------------------------------------


def _status(order: Order) -> str:
    match order.status:
        case OrderStatus.OPEN:
            return "PartiallyFilled" if order.filled > 0 else "New"
        case OrderStatus.CLOSED:
            return "Filled"
        case _:
            return "PartiallyFilledCanceled" if order.filled > 0 else "Cancelled"


def order_json(order: Order, spec: SymbolSpec) -> dict[str, Any]:
    """An order as ``/v5/order/realtime`` and ``/v5/order/history`` list it."""
    value = (order.average or Decimal(0)) * order.filled
    fee_detail = {order.fee_currency: num(order.fee)} if order.fee and order.fee_currency else {}
    return {
        "symbol": symbol_id(spec),
        "orderType": "Market" if order.type is OrderType.MARKET else "Limit",
        "orderLinkId": order.client_order_id or "",
        "orderId": order.id,
        "cancelType": "CancelByUser" if order.status is OrderStatus.CANCELED else "UNKNOWN",
        "avgPrice": num(order.average) if order.filled else "0",
        "orderStatus": _status(order),
        "cumExecValue": num(value),
        "rejectReason": "EC_NoError",
        "isLeverage": "0",
        "price": num(order.price) if order.price is not None else "0",
        "createdTime": str(order.timestamp),
        "positionIdx": 0,
        "timeInForce": "IOC" if order.type is OrderType.MARKET else "GTC",
        "leavesValue": num((order.price or Decimal(0)) * order.remaining),
        "updatedTime": str(order.timestamp),
        "side": order.side.value.capitalize(),
        "triggerPrice": "0",
        "cumExecFee": num(order.fee),
        "cumFeeDetail": fee_detail,
        "leavesQty": num(order.remaining) if order.status is OrderStatus.OPEN else "0",
        "cumExecQty": num(order.filled),
        "reduceOnly": False,
        "qty": num(order.amount),
        "marketUnit": "baseCoin" if order.type is OrderType.MARKET else "",
    }


def trade_json(trade: Trade, spec: SymbolSpec, rate: Decimal) -> dict[str, Any]:
    """One execution as ``/v5/execution/list`` lists it."""
    return {
        "symbol": symbol_id(spec),
        "orderType": "Limit",
        "orderLinkId": trade.client_order_id or "",
        "orderId": trade.order_id,
        "execTime": str(trade.timestamp),
        "feeRate": num(rate),
        "execPrice": num(trade.price),
        "execValue": num(trade.price * trade.amount),
        "execType": "Trade",
        "side": trade.side.value.capitalize(),
        "isMaker": not trade.taker,
        "execFee": num(trade.fee),
        "feeCoin": trade.fee_currency,
        "execId": trade.id,
        "execQty": num(trade.amount),
        "seq": trade.id,
    }
