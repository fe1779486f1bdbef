"""The loopback's Bybit v5 dialect (spot, unified trading account): the routes ccxt's
``bybit`` class calls for a grid, signed as Bybit signs (X-BAPI-API-KEY, -TIMESTAMP,
-RECV-WINDOW, -SIGN over timestamp + key + window + query or body), answered in Bybit's
shapes (``{"retCode": 0, "retMsg": "OK", "result": {...}}``) as ccxt's recorded
answers show them (shared/data/ccxt-static/bybit.json)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import PLACED_ORDER, json_answer, state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.venue_common import (
    decimal_param,
    find_order,
    market_day,
    num,
    order_type,
    orders_of,
    side_of,
    spec_by,
    trades_of,
)
from gridsup.exchange.loopback.venue_limits import Admission, Refusal
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType

__all__ = ["KEY_HEADER", "PREFIX", "add_routes", "fault_answer", "limit_answer", "limit_headers"]

PREFIX = "/v5/"
KEY_HEADER = "X-BAPI-API-KEY"
Handler = Callable[[web.Request], Awaitable[web.Response]]


class BybitError(Exception):
    """A Bybit error answer (HTTP 200 with a non-zero retCode, as Bybit answers)."""

    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status

    def answer(self, now: int) -> web.Response:
        body = {
            "retCode": self.code,
            "retMsg": self.msg,
            "result": {},
            "retExtInfo": {},
            "time": now,
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


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.Response:
        now = state_of(request).clock()
        try:
            return await handler(request)
        except BybitError as exc:
            return exc.answer(now)
        except BinanceError:
            return BybitError(10001, "params error: symbol invalid").answer(now)
        except errors.ExchangeError as exc:
            return _error_for(exc).answer(now)

    return guarded


def symbol_id(spec: SymbolSpec) -> str:
    return f"{spec.base}{spec.quote}"


def _spec(state: LoopbackState, venue_id: str | None, required: bool = True) -> SymbolSpec | None:
    spec = spec_by(state, venue_id, symbol_id)
    if spec is None and (required or venue_id):
        raise BybitError(10001, "params error: symbol invalid")
    return spec


async def _private(request: web.Request) -> dict[str, Any]:
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


def _ok(result: Any, now: int) -> web.Response:
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


# -- public -----------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    now = state_of(request).clock()
    result = {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}
    return _ok(result, now)


async def instruments(request: web.Request) -> web.Response:
    state = state_of(request)
    now = state.clock()
    if request.query.get("category") != "spot":
        return _ok({"category": request.query.get("category"), "list": []}, now)
    rows = [
        {
            "symbol": symbol_id(s),
            "baseCoin": s.base,
            "quoteCoin": s.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "none",
            "lotSizeFilter": {
                "basePrecision": num(s.step_size),
                "quotePrecision": "0.00000001",
                "minOrderQty": num(s.min_qty),
                "maxOrderQty": num(s.max_qty),
                "minOrderAmt": num(s.min_notional),
                "maxOrderAmt": "2000000",
            },
            "priceFilter": {"tickSize": num(s.tick_size)},
        }
        for s in state.specs.values()
    ]
    return _ok({"category": "spot", "list": rows, "nextPageCursor": ""}, now)


def _ticker(state: LoopbackState, spec: SymbolSpec) -> dict[str, Any]:
    last, (open_, high, low, volume, _) = market_day(state, spec)
    return {
        "symbol": symbol_id(spec),
        "bid1Price": num(last),
        "bid1Size": "1",
        "ask1Price": num(last + spec.tick_size),
        "ask1Size": "1",
        "lastPrice": num(last),
        "prevPrice24h": num(open_),
        "price24hPcnt": "0",
        "highPrice24h": num(high),
        "lowPrice24h": num(low),
        "turnover24h": num(volume * last),
        "volume24h": num(volume),
    }


async def tickers(request: web.Request) -> web.Response:
    state = state_of(request)
    spec = _spec(state, request.query.get("symbol"), required=False)
    rows = [_ticker(state, s) for s in ([spec] if spec else state.specs.values())]
    return _ok({"category": "spot", "list": rows}, state.clock())


# -- private ----------------------------------------------------------------------------


async def query_api(request: web.Request) -> web.Response:
    await _private(request)
    # a unified trading account (the only kind gridsup verified)
    result = {
        "id": "1",
        "readOnly": 0,
        "unified": 0,
        "uta": 1,
        "permissions": {"Spot": ["SpotTrade"]},
    }
    return _ok(result, state_of(request).clock())


async def account_info(request: web.Request) -> web.Response:
    await _private(request)
    result = {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False}
    return _ok(result, state_of(request).clock())


async def wallet_balance(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await _private(request)
    if query.get("accountType", "UNIFIED") != "UNIFIED":
        raise BybitError(10001, "accountType only support UNIFIED.")
    account = state.paper.balance()
    coins = [
        {
            "coin": asset,
            "equity": num(account.total(asset)),
            "walletBalance": num(account.total(asset)),
            "locked": num(account.used.get(asset, Decimal(0))),
            "availableToWithdraw": "",
            "borrowAmount": "0",
            "totalOrderIM": "0",
            "totalPositionIM": "0",
            "accruedInterest": "0",
            "unrealisedPnl": "0",
        }
        for asset in sorted(set(account.free) | set(account.used))
    ]
    result = {"list": [{"accountType": "UNIFIED", "coin": coins}]}
    return _ok(result, state.clock())


async def create_order(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await _private(request)
    if body.get("category") != "spot":
        raise BybitError(10001, "params error: category only support spot here")
    spec = _spec(state, body.get("symbol"))
    assert spec is not None
    side, kind = side_of(str(body.get("side", ""))), order_type(str(body.get("orderType", "")))
    amount, price = decimal_param(body.get("qty")), decimal_param(body.get("price"))
    if side is None or kind is None or amount is None:
        raise BybitError(10001, "params error: side, orderType or qty")
    if kind is OrderType.LIMIT and price is None:
        raise BybitError(10001, "params error: price")
    if kind is OrderType.MARKET and body.get("marketUnit") != "baseCoin":
        raise BybitError(170137, "market orders are sized in base here (marketUnit=baseCoin)")
    client_id = str(body.get("orderLinkId") or "")
    if not client_id or len(client_id) > 36:
        raise BybitError(10001, "params error: orderLinkId")
    order, _ = state.place(
        spec, side, kind, amount, price if kind is OrderType.LIMIT else None, client_id
    )
    request[PLACED_ORDER] = order.id
    return _ok({"orderId": order.id, "orderLinkId": client_id}, state.clock())


async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await _private(request)
    spec = _spec(state, body.get("symbol"))
    order = find_order(state, body.get("orderId"), body.get("orderLinkId"), spec)
    if order is None or order.status is not OrderStatus.OPEN:
        raise BybitError(170213, "Order does not exist.")
    state.paper.cancel_order(order.id, order.symbol)
    return _ok({"orderId": order.id, "orderLinkId": order.client_order_id or ""}, state.clock())


def _select(state: LoopbackState, query: dict[str, Any], *, open_: bool) -> list[dict[str, Any]]:
    spec = _spec(state, query.get("symbol"), required=False)
    order_id, link_id = query.get("orderId") or None, query.get("orderLinkId") or None
    found = orders_of(state, spec, open_=open_)
    found = [
        o
        for o in found
        if (order_id is None or o.id == order_id)
        and (link_id is None or o.client_order_id == link_id)
    ]
    rows = [order_json(o, state.spec(o.symbol)) for o in reversed(found)]
    wanted = query.get("orderStatus")
    return [r for r in rows if not wanted or r["orderStatus"] == wanted][:50]


async def open_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await _private(request)
    rows = _select(state, query, open_=True)
    return _ok({"category": "spot", "list": rows, "nextPageCursor": ""}, state.clock())


async def order_history(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await _private(request)
    rows = _select(state, query, open_=False)
    return _ok({"category": "spot", "list": rows, "nextPageCursor": ""}, state.clock())


async def executions(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await _private(request)
    spec = _spec(state, query.get("symbol"), required=False)
    found = trades_of(state, [spec] if spec else state.specs.values())
    start = int(query["startTime"]) if str(query.get("startTime", "")).isdigit() else None
    found = [t for t in found if start is None or t.timestamp >= start]
    limit = int(query["limit"]) if str(query.get("limit", "")).isdigit() else 50
    newest = list(reversed(found))[: min(limit, 100)]
    rows = []
    for t in newest:
        market = state.spec(t.symbol)
        rate = market.taker_fee if t.taker else market.maker_fee
        rows.append(trade_json(t, market, rate))
    return _ok({"category": "spot", "list": rows, "nextPageCursor": ""}, state.clock())


def add_routes(app: web.Application) -> None:
    """Register the Bybit v5 routes."""
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "market/time", server_time),
        ("GET", "market/instruments-info", instruments),
        ("GET", "market/tickers", tickers),
        ("GET", "user/query-api", query_api),
        ("GET", "account/info", account_info),
        ("GET", "account/wallet-balance", wallet_balance),
        ("POST", "order/create", create_order),
        ("POST", "order/cancel", cancel_order),
        ("GET", "order/realtime", open_orders),
        ("GET", "order/history", order_history),
        ("GET", "execution/list", executions),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, PREFIX + path, _guard(handler))
