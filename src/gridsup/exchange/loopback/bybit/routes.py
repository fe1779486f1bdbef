"""Bybit v5's routes (spot, unified trading account) that ccxt's ``bybit`` class calls
for a grid: server time, instruments, tickers, the key's account, wallet balance,
creating, cancelling and listing orders, executions (the wire they speak: ``wire.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gridsup.exchange.loopback.bybit.wire import (
    DIALECT,
    BybitError,
    ok,
    order_json,
    signed_request,
    symbol_id,
    trade_json,
)
from gridsup.exchange.loopback.context import PLACED_ORDER, state_of
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.venue_common import (
    Handler,
    find_order,
    holdings,
    int_param,
    market_day,
    newest_trades,
    num,
    order_request,
    orders_of,
)
from gridsup.messages.common import OrderStatus, OrderType

__all__ = ["add_routes"]


# -- public -----------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    now = state_of(request).clock()
    result = {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}
    return ok(result, now)


async def instruments(request: web.Request) -> web.Response:
    state = state_of(request)
    now = state.clock()
    if request.query.get("category") != "spot":
        return ok({"category": request.query.get("category"), "list": []}, now)
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
    return ok({"category": "spot", "list": rows, "nextPageCursor": ""}, now)


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
    spec = DIALECT.named_market(state, request.query.get("symbol"))
    rows = [_ticker(state, s) for s in ([spec] if spec else state.specs.values())]
    return ok({"category": "spot", "list": rows}, state.clock())


# -- private ----------------------------------------------------------------------------


async def query_api(request: web.Request) -> web.Response:
    await signed_request(request)
    # a unified trading account (the only kind gridsup verified)
    result = {
        "id": "1",
        "readOnly": 0,
        "unified": 0,
        "uta": 1,
        "permissions": {"Spot": ["SpotTrade"]},
    }
    return ok(result, state_of(request).clock())


async def account_info(request: web.Request) -> web.Response:
    await signed_request(request)
    result = {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False}
    return ok(result, state_of(request).clock())


async def wallet_balance(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await signed_request(request)
    if query.get("accountType", "UNIFIED") != "UNIFIED":
        raise BybitError(10001, "accountType only support UNIFIED.")
    coins = [
        {
            "coin": h.asset,
            "equity": num(h.total),
            "walletBalance": num(h.total),
            "locked": num(h.used),
            "availableToWithdraw": "",
            "borrowAmount": "0",
            "totalOrderIM": "0",
            "totalPositionIM": "0",
            "accruedInterest": "0",
            "unrealisedPnl": "0",
        }
        for h in holdings(state.paper.balance())
    ]
    result = {"list": [{"accountType": "UNIFIED", "coin": coins}]}
    return ok(result, state.clock())


async def create_order(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await signed_request(request)
    if body.get("category") != "spot":
        raise BybitError(10001, "params error: category only support spot here")
    spec = DIALECT.market(state, body.get("symbol"))
    asked = order_request(
        body.get("side"), body.get("orderType"), body.get("qty"), body.get("price")
    )
    if asked is None:
        raise BybitError(10001, "params error: side, orderType or qty")
    if asked.type is OrderType.LIMIT and asked.price is None:
        raise BybitError(10001, "params error: price")
    if asked.type is OrderType.MARKET and body.get("marketUnit") != "baseCoin":
        raise BybitError(170137, "market orders are sized in base here (marketUnit=baseCoin)")
    client_id = str(body.get("orderLinkId") or "")
    if not client_id or len(client_id) > 36:
        raise BybitError(10001, "params error: orderLinkId")
    order, _ = state.place(spec, asked.side, asked.type, asked.amount, asked.price, client_id)
    request[PLACED_ORDER] = order.id
    return ok({"orderId": order.id, "orderLinkId": client_id}, state.clock())


async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await signed_request(request)
    spec = DIALECT.market(state, body.get("symbol"))
    order = find_order(state, body.get("orderId"), body.get("orderLinkId"), spec)
    if order is None or order.status is not OrderStatus.OPEN:
        raise BybitError(170213, "Order does not exist.")
    state.paper.cancel_order(order.id, order.symbol)
    return ok({"orderId": order.id, "orderLinkId": order.client_order_id or ""}, state.clock())


def _select(state: LoopbackState, query: dict[str, Any], *, open_: bool) -> list[dict[str, Any]]:
    spec = DIALECT.named_market(state, query.get("symbol"))
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
    query = await signed_request(request)
    rows = _select(state, query, open_=True)
    return ok({"category": "spot", "list": rows, "nextPageCursor": ""}, state.clock())


async def order_history(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await signed_request(request)
    rows = _select(state, query, open_=False)
    return ok({"category": "spot", "list": rows, "nextPageCursor": ""}, state.clock())


async def executions(request: web.Request) -> web.Response:
    state = state_of(request)
    query = await signed_request(request)
    spec = DIALECT.named_market(state, query.get("symbol"))
    limit = int_param(query.get("limit"))
    newest = newest_trades(
        state, spec, int_param(query.get("startTime")), min(50 if limit is None else limit, 100)
    )
    rows = []
    for t in newest:
        market = state.spec(t.symbol)
        rate = market.taker_fee if t.taker else market.maker_fee
        rows.append(trade_json(t, market, rate))
    return ok({"category": "spot", "list": rows, "nextPageCursor": ""}, state.clock())


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
    DIALECT.add_routes(app, routes)
