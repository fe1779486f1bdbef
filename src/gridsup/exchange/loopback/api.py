"""Routes of the Binance spot REST v3 subset that ccxt's ``binance`` class calls.

Public: ping, time, exchangeInfo, ticker/price, ticker/24hr, ticker/bookTicker,
klines. SIGNED (key header + HMAC signature + timestamp): order (POST/GET/DELETE, by
``orderId`` or ``origClientOrderId``), openOrders, myTrades, account. USER_STREAM (key
header only): userDataStream (POST/PUT/DELETE: the listenKeys of ``listen_keys.py``).
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from gridsup.exchange.errors import OrderNotFound
from gridsup.exchange.loopback.auth import verify_signed
from gridsup.exchange.loopback.events import OrderChanged
from gridsup.exchange.loopback.filters import check_filters, check_status
from gridsup.exchange.loopback.markets import SymbolSpec, symbol_info
from gridsup.exchange.loopback.state import INTERVALS_MS, LoopbackState
from gridsup.exchange.loopback.wire import (
    BinanceError,
    account_json,
    fixed,
    order_json,
    trade_json,
)
from gridsup.exchange.types import Order
from gridsup.messages.common import OrderType, Side

__all__ = ["STATE", "add_api_routes"]

STATE: web.AppKey[LoopbackState] = web.AppKey("loopback_state", LoopbackState)
# Request key: the order a create request placed (so a lost response can be recorded).
PLACED_ORDER: web.RequestKey[str] = web.RequestKey("loopback_placed_order", str)


def _state(request: web.Request) -> LoopbackState:
    return request.app[STATE]


def _ok(data: Any) -> web.Response:
    return web.json_response(data, dumps=lambda d: json.dumps(d, separators=(",", ":")))


def _decimal(params: dict[str, str], name: str, required: bool = True) -> Decimal | None:
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


def _int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(raw)


async def _signed(request: web.Request) -> dict[str, str]:
    body = await request.text() if request.can_read_body else ""
    state = _state(request)
    return verify_signed(
        request.headers, request.query_string, body, state.keys, state.server_time()
    )


def _symbols_param(request: web.Request) -> list[SymbolSpec]:
    """The markets a public request asks for (``symbol``, ``symbols`` or all)."""
    state = _state(request)
    if "symbol" in request.query:
        return [state.spec(request.query["symbol"])]
    if "symbols" in request.query:
        try:
            names = json.loads(request.query["symbols"])
        except ValueError:
            raise BinanceError(
                400, -1100, "Illegal characters found in parameter 'symbols'."
            ) from None
        return [state.spec(str(name)) for name in names]
    return list(state.specs.values())


# -- public ---------------------------------------------------------------------------


async def ping(request: web.Request) -> web.Response:
    return _ok({})


async def server_time(request: web.Request) -> web.Response:
    return _ok({"serverTime": _state(request).server_time()})


async def exchange_info(request: web.Request) -> web.Response:
    state = _state(request)
    return _ok(
        {
            "timezone": "UTC",
            "serverTime": state.clock(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [
                symbol_info(spec, state.status[spec.id].value) for spec in _symbols_param(request)
            ],
        }
    )


def _ticker_24hr(state: LoopbackState, spec: SymbolSpec) -> dict[str, Any]:
    now = state.clock()
    last = state.paper.last_price(spec.symbol) or Decimal(0)
    stats = state.day_stats(spec.id)
    open_, high, low, volume, open_time = stats or (last, last, last, Decimal(0), now)
    change = last - open_
    percent = (change / open_ * 100).quantize(Decimal("0.001")) if open_ else Decimal(0)
    bid, ask = _book(state, spec)
    return {
        "symbol": spec.id,
        "priceChange": fixed(change),
        "priceChangePercent": str(percent),
        "weightedAvgPrice": fixed(last),
        "prevClosePrice": fixed(open_),
        "lastPrice": fixed(last),
        "lastQty": "0.00000000",
        "bidPrice": fixed(bid),
        "bidQty": "1.00000000",
        "askPrice": fixed(ask),
        "askQty": "1.00000000",
        "openPrice": fixed(open_),
        "highPrice": fixed(high),
        "lowPrice": fixed(low),
        "volume": fixed(volume),
        "quoteVolume": fixed(volume * last),
        "openTime": open_time,
        "closeTime": now,
        "firstId": 0,
        "lastId": 0,
        "count": 0,
    }


def _book(state: LoopbackState, spec: SymbolSpec) -> tuple[Decimal, Decimal]:
    """Best bid and ask around the last price: one tick apart."""
    last = state.paper.last_price(spec.symbol)
    if last is None:
        return Decimal(0), Decimal(0)
    return last, last + spec.tick_size


async def ticker_24hr(request: web.Request) -> web.Response:
    state = _state(request)
    specs = _symbols_param(request)
    data = [_ticker_24hr(state, s) for s in specs]
    single = "symbol" in request.query
    return _ok(data[0] if single else data)


async def ticker_price(request: web.Request) -> web.Response:
    state = _state(request)
    data = [
        {"symbol": s.id, "price": fixed(state.paper.last_price(s.symbol) or Decimal(0))}
        for s in _symbols_param(request)
    ]
    return _ok(data[0] if "symbol" in request.query else data)


async def book_ticker(request: web.Request) -> web.Response:
    state = _state(request)
    data = []
    for spec in _symbols_param(request):
        bid, ask = _book(state, spec)
        data.append(
            {
                "symbol": spec.id,
                "bidPrice": fixed(bid),
                "bidQty": "1.00000000",
                "askPrice": fixed(ask),
                "askQty": "1.00000000",
            }
        )
    return _ok(data[0] if "symbol" in request.query else data)


async def klines(request: web.Request) -> web.Response:
    state = _state(request)
    params = dict(request.query)
    spec = state.spec(params.get("symbol"))
    limit = min(_int(params, "limit") or 500, 1000)
    candles = state.klines(
        spec.id,
        params.get("interval", ""),
        _int(params, "startTime"),
        _int(params, "endTime"),
        limit,
    )
    step = INTERVALS_MS[params["interval"]]
    return _ok(
        [
            [
                c.timestamp,
                fixed(c.open),
                fixed(c.high),
                fixed(c.low),
                fixed(c.close),
                fixed(c.volume),
                c.timestamp + step - 1,
                fixed(c.volume * c.close),
                0,
                "0.00000000",
                "0.00000000",
                "0",
            ]
            for c in candles
        ]
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
    state = _state(request)
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
    amount = _decimal(params, "quantity")
    price = _decimal(params, "price", required=order_type is OrderType.LIMIT)
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
        return _ok(
            {
                "symbol": spec.id,
                "orderId": order_json(order, spec.id)["orderId"],
                "orderListId": -1,
                "clientOrderId": client_id,
                "transactTime": order.timestamp,
            }
        )
    return _ok(order_json(order, spec.id, fills=fills if response_type == "FULL" else None))


async def get_order(request: web.Request) -> web.Response:
    state = _state(request)
    params = await _signed(request)
    spec = state.spec(params.get("symbol"))
    return _ok(order_json(_find_order(state, spec, params), spec.id))


async def cancel_order(request: web.Request) -> web.Response:
    state = _state(request)
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
    return _ok(data)


async def open_orders(request: web.Request) -> web.Response:
    state = _state(request)
    params = await _signed(request)
    symbol = state.spec(params["symbol"]).symbol if params.get("symbol") else None
    orders = state.paper.open_orders(symbol)
    return _ok([order_json(o, state.spec(o.symbol).id) for o in orders])


async def my_trades(request: web.Request) -> web.Response:
    state = _state(request)
    params = await _signed(request)
    spec = state.spec(params.get("symbol"))
    start, end = _int(params, "startTime"), _int(params, "endTime")
    order_id, from_id = params.get("orderId"), _int(params, "fromId")
    limit = min(_int(params, "limit") or 500, 1000)
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
    return _ok([trade_json(t, spec.id) for t in trades])


async def account(request: web.Request) -> web.Response:
    state = _state(request)
    await _signed(request)
    return _ok(account_json(state.paper.balance(), state.clock()))


# -- USER_STREAM (API key only): the listenKeys of older clients (listen_keys.py) ------


async def _api_key(request: web.Request) -> tuple[str, dict[str, str]]:
    """The request's API key (checked, never a signature) and its parameters."""
    api_key = request.headers.get("X-MBX-APIKEY")
    if not api_key:
        raise BinanceError(401, -2014, "API-key format invalid.")
    if api_key not in _state(request).keys:
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
    return _ok({"listenKey": _state(request).listen_keys.create(api_key)})


async def keepalive_listen_key(request: web.Request) -> web.Response:
    api_key, params = await _api_key(request)
    _state(request).listen_keys.keepalive(_listen_key(params), api_key)
    return _ok({})


async def close_listen_key(request: web.Request) -> web.Response:
    api_key, params = await _api_key(request)
    _state(request).listen_keys.close(_listen_key(params), api_key)
    return _ok({})


def add_api_routes(app: web.Application) -> None:
    """Register the /api/v3 routes on ``app``."""
    app.router.add_get("/api/v3/ping", ping)
    app.router.add_get("/api/v3/time", server_time)
    app.router.add_get("/api/v3/exchangeInfo", exchange_info)
    app.router.add_get("/api/v3/ticker/24hr", ticker_24hr)
    app.router.add_get("/api/v3/ticker/price", ticker_price)
    app.router.add_get("/api/v3/ticker/bookTicker", book_ticker)
    app.router.add_get("/api/v3/klines", klines)
    app.router.add_post("/api/v3/order", create_order)
    app.router.add_get("/api/v3/order", get_order)
    app.router.add_delete("/api/v3/order", cancel_order)
    app.router.add_get("/api/v3/openOrders", open_orders)
    app.router.add_get("/api/v3/myTrades", my_trades)
    app.router.add_get("/api/v3/account", account)
    app.router.add_post("/api/v3/userDataStream", create_listen_key)
    app.router.add_put("/api/v3/userDataStream", keepalive_listen_key)
    app.router.add_delete("/api/v3/userDataStream", close_listen_key)
