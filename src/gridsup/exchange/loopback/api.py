"""Routes of Binance's private spot REST v3 endpoints that ccxt's ``binance`` class
calls (its public ones: ``public_api.py``). SIGNED (key header + HMAC signature +
timestamp): order (POST/GET/DELETE, by ``orderId`` or ``origClientOrderId``),
openOrders, myTrades, account. USER_STREAM (key header only): userDataStream
(POST/PUT/DELETE: the listenKeys of ``listen_keys.py``).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

from aiohttp import web

from gridsup.exchange.errors import OrderNotFound
from gridsup.exchange.loopback.auth import verify_signed
from gridsup.exchange.loopback.context import PLACED_ORDER, json_answer, state_of
from gridsup.exchange.loopback.events import OrderChanged
from gridsup.exchange.loopback.filters import check_filters, check_status
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.wire import (
    BinanceError,
    account_json,
    decimal_field,
    int_field,
    order_json,
    trade_json,
)
from gridsup.exchange.types import Order
from gridsup.messages.common import OrderType, Side

__all__ = ["add_api_routes"]


async def _signed(request: web.Request) -> dict[str, str]:
    body = await request.text() if request.can_read_body else ""
    state = state_of(request)
    return verify_signed(
        request.headers, request.query_string, body, state.keys, state.server_time()
    )


# -- signed ---------------------------------------------------------------------------


def _find_order(state: LoopbackState, spec: SymbolSpec, params: dict[str, str]) -> Order:
    order_id = params.get("orderId")
    client_id = params.get("origClientOrderId")
    if not order_id and not client_id:
        raise BinanceError(
            400,
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        )
    order = state.paper.fetch_order(order_id or None, client_id or None)
    if order.symbol != spec.symbol:
        raise BinanceError(400, -2013, "Order does not exist.")
    return order


async def create_order(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _signed(request)
    spec = state.spec(params.get("symbol"))
    side_text = params.get("side", "").upper()
    type_text = params.get("type", "").upper()
    if side_text not in ("BUY", "SELL"):
        raise BinanceError(
            400, -1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed."
        )
    if type_text not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
        raise BinanceError(400, -1116, "Invalid orderType.")
    post_only = type_text == "LIMIT_MAKER"
    order_type = OrderType.MARKET if type_text == "MARKET" else OrderType.LIMIT
    if type_text == "LIMIT" and params.get("timeInForce", "").upper() != "GTC":
        raise BinanceError(
            400,
            -1102,
            "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
        )
    amount = decimal_field(params, "quantity")
    price = decimal_field(params, "price", required=order_type is OrderType.LIMIT)
    assert amount is not None
    if state.lenient:
        # The paper engine checks steps and minimums; the maxima are Binance's alone.
        if price is not None and price > spec.max_price:
            raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        if amount > spec.max_qty:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
    else:
        side = Side(side_text.lower())
        check_status(state.status[spec.id])
        check_filters(
            spec,
            side,
            order_type,
            amount,
            price if order_type is OrderType.LIMIT else None,
            state.paper.last_price(spec.symbol),
            len(state.paper.open_orders(spec.symbol)),
        )
    client_id = params.get("newClientOrderId") or f"loopback{uuid.uuid4().hex[:20]}"
    order, fills = state.place(
        spec,
        Side(side_text.lower()),
        order_type,
        amount,
        price if order_type is OrderType.LIMIT else None,
        client_id,
        post_only=post_only,
    )
    request[PLACED_ORDER] = order.id
    response_type = params.get("newOrderRespType", "FULL").upper()
    if response_type == "ACK":
        return json_answer(
            {
                "symbol": spec.id,
                "orderId": order_json(order, spec.id)["orderId"],
                "orderListId": -1,
                "clientOrderId": client_id,
                "transactTime": order.timestamp,
            }
        )
    return json_answer(order_json(order, spec.id, fills=fills if response_type == "FULL" else None))


async def get_order(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _signed(request)
    spec = state.spec(params.get("symbol"))
    return json_answer(order_json(_find_order(state, spec, params), spec.id))


async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _signed(request)
    spec = state.spec(params.get("symbol"))
    try:
        order = _find_order(state, spec, params)
        canceled = state.paper.cancel_order(order.id, spec.symbol)
    except (BinanceError, OrderNotFound) as exc:
        # Binance answers a cancel of an unknown or no longer open order with -2011.
        if isinstance(exc, BinanceError) and exc.code != -2013:
            raise
        raise BinanceError(400, -2011, "Unknown order sent.") from exc
    state.notify(OrderChanged(canceled, None))
    data = order_json(canceled, spec.id)
    data["origClientOrderId"] = data["clientOrderId"]
    data["clientOrderId"] = f"cancel{uuid.uuid4().hex[:20]}"
    data["transactTime"] = state.clock()
    return json_answer(data)


async def open_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _signed(request)
    symbol = state.spec(params["symbol"]).symbol if params.get("symbol") else None
    orders = state.paper.open_orders(symbol)
    return json_answer([order_json(o, state.spec(o.symbol).id) for o in orders])


async def my_trades(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _signed(request)
    spec = state.spec(params.get("symbol"))
    start, end = int_field(params, "startTime"), int_field(params, "endTime")
    order_id, from_id = params.get("orderId"), int_field(params, "fromId")
    limit = min(int_field(params, "limit") or 500, 1000)
    if order_id is None:
        found = state.paper.trades(spec.symbol)
    else:  # one order's trades are indexed: no scan of the account's history
        found = [t for t in state.paper.order_trades(order_id) if t.symbol == spec.symbol]
    trades = [
        t
        for t in found
        if (start is None or t.timestamp >= start)
        and (end is None or t.timestamp <= end)
        and (from_id is None or not t.id.isdigit() or int(t.id) >= from_id)
    ]
    trades = trades[:limit] if start is not None or from_id is not None else trades[-limit:]
    return json_answer([trade_json(t, spec.id) for t in trades])


async def account(request: web.Request) -> web.Response:
    state = state_of(request)
    await _signed(request)
    return json_answer(account_json(state.paper.balance(), state.clock()))


# -- USER_STREAM (API key only): the listenKeys of older clients (listen_keys.py) ------


async def _api_key(request: web.Request) -> tuple[str, dict[str, str]]:
    """The request's API key (checked, never a signature) and its parameters."""
    api_key = request.headers.get("X-MBX-APIKEY")
    if not api_key:
        raise BinanceError(401, -2014, "API-key format invalid.")
    if api_key not in state_of(request).keys:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    params = dict(request.query)
    if request.can_read_body:
        params.update(parse_qsl(await request.text(), keep_blank_values=True))
    return api_key, params


def _listen_key(params: dict[str, str]) -> str:
    key = params.get("listenKey")
    if not key:
        raise BinanceError(
            400,
            -1102,
            "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed.",
        )
    return key


async def create_listen_key(request: web.Request) -> web.Response:
    api_key, _ = await _api_key(request)
    return json_answer({"listenKey": state_of(request).listen_keys.create(api_key)})


async def keepalive_listen_key(request: web.Request) -> web.Response:
    api_key, params = await _api_key(request)
    state_of(request).listen_keys.keepalive(_listen_key(params), api_key)
    return json_answer({})


async def close_listen_key(request: web.Request) -> web.Response:
    api_key, params = await _api_key(request)
    state_of(request).listen_keys.close(_listen_key(params), api_key)
    return json_answer({})


def add_api_routes(app: web.Application) -> None:
    """Register the SIGNED and USER_STREAM /api/v3 routes on ``app``."""
    app.router.add_post("/api/v3/order", create_order)
    app.router.add_get("/api/v3/order", get_order)
    app.router.add_delete("/api/v3/order", cancel_order)
    app.router.add_get("/api/v3/openOrders", open_orders)
    app.router.add_get("/api/v3/myTrades", my_trades)
    app.router.add_get("/api/v3/account", account)
    app.router.add_post("/api/v3/userDataStream", create_listen_key)
    app.router.add_put("/api/v3/userDataStream", keepalive_listen_key)
    app.router.add_delete("/api/v3/userDataStream", close_listen_key)
