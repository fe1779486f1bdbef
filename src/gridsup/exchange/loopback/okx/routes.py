"""OKX v5's routes (spot, cash trade mode) that ccxt's ``okx`` class calls for a grid:
server time, instruments, tickers, balance, placing, cancelling and querying orders,
fills (the wire they speak: ``wire.py``)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gridsup.exchange.loopback.context import PLACED_ORDER, json_answer, state_of
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.okx.wire import (
    DIALECT,
    OkxError,
    inst_id,
    ok,
    order_json,
    signed_request,
    trade_json,
)
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
from gridsup.exchange.types import Order
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = ["add_routes"]


# -- public -----------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    return ok([{"ts": str(state_of(request).clock())}])


async def instruments(request: web.Request) -> web.Response:
    state = state_of(request)
    if request.query.get("instType", "SPOT") != "SPOT":
        return ok([])
    return ok(
        [
            {
                "instType": "SPOT",
                "instId": inst_id(s),
                "baseCcy": s.base,
                "quoteCcy": s.quote,
                "settleCcy": "",
                "tickSz": num(s.tick_size),
                "lotSz": num(s.step_size),
                "minSz": num(s.min_qty),
                "maxLmtSz": num(s.max_qty),
                "maxMktSz": "1000000",
                "state": "live",
                "listTime": "1606468572000",
                "lever": "",
                "ctVal": "",
                "ctMult": "",
                "ctValCcy": "",
                "uly": "",
                "instFamily": "",
                "ruleType": "normal",
            }
            for s in state.specs.values()
        ]
    )


def _ticker(state: LoopbackState, spec: SymbolSpec) -> dict[str, Any]:
    last, (open_, high, low, volume, _) = market_day(state, spec)
    return {
        "instType": "SPOT",
        "instId": inst_id(spec),
        "last": num(last),
        "lastSz": "0",
        "askPx": num(last + spec.tick_size),
        "askSz": "1",
        "bidPx": num(last),
        "bidSz": "1",
        "open24h": num(open_),
        "high24h": num(high),
        "low24h": num(low),
        "volCcy24h": num(volume * last),
        "vol24h": num(volume),
        "ts": str(state.clock()),
        "sodUtc0": num(open_),
        "sodUtc8": num(open_),
    }


async def ticker(request: web.Request) -> web.Response:
    state = state_of(request)
    return ok([_ticker(state, DIALECT.market(state, request.query.get("instId")))])


async def tickers(request: web.Request) -> web.Response:
    state = state_of(request)
    return ok([_ticker(state, s) for s in state.specs.values()])


# -- private ----------------------------------------------------------------------------


async def balance(request: web.Request) -> web.Response:
    state = state_of(request)
    await signed_request(request)
    now = str(state.clock())
    details = [
        {
            "ccy": h.asset,
            "availBal": num(h.free),
            "availEq": num(h.free),
            "cashBal": num(h.total),
            "eq": num(h.total),
            "frozenBal": num(h.used),
            "ordFrozen": num(h.used),
            "liab": "0",
            "uTime": now,
            "upl": "0",
        }
        for h in holdings(state.paper.balance())
    ]
    return ok([{"adjEq": "", "details": details, "totalEq": "0", "uTime": now}])


def _place(state: LoopbackState, item: dict[str, Any]) -> tuple[Order, dict[str, Any]]:
    spec = DIALECT.market(state, item.get("instId"))
    if item.get("tdMode") != "cash":
        raise OkxError(200, "1", "Parameter tdMode error", s_code="51000")
    asked = order_request(item.get("side"), item.get("ordType"), item.get("sz"), item.get("px"))
    if asked is None:
        raise OkxError(200, "1", "Parameter error", s_code="51000")
    if asked.type is OrderType.LIMIT and asked.price is None:
        raise OkxError(200, "1", "Parameter px error", s_code="51000")
    is_buy = asked.side is Side.BUY
    if asked.type is OrderType.MARKET and is_buy and item.get("tgtCcy") != "base_ccy":
        raise OkxError(200, "1", "market buys are sized in base here", s_code="51000")
    client_id = str(item.get("clOrdId") or "")
    if not client_id.isalnum() or len(client_id) > 32:
        raise OkxError(200, "1", "Parameter clOrdId error", s_code="51000")
    order, _ = state.place(spec, asked.side, asked.type, asked.amount, asked.price, client_id)
    now = str(state.clock())
    return order, {
        "clOrdId": client_id,
        "ordId": order.id,
        "sCode": "0",
        "sMsg": "Order placed",
        "tag": str(item.get("tag") or ""),
        "ts": now,
    }


async def place_order(request: web.Request) -> web.Response:
    state = state_of(request)
    _, body = await signed_request(request)
    try:
        item = json.loads(body or "{}")
    except ValueError:
        raise OkxError(400, "50002", "Invalid JSON") from None
    items = item if isinstance(item, list) else [item]
    if len(items) != 1:
        raise OkxError(400, "50014", "one order per request here")
    order, answer = _place(state, items[0])
    request[PLACED_ORDER] = order.id
    return json_answer(
        {"code": "0", "data": [answer], "inTime": answer["ts"], "msg": "", "outTime": answer["ts"]}
    )


async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    _, body = await signed_request(request)
    item = json.loads(body or "{}")
    spec = DIALECT.market(state, item.get("instId"))
    order = find_order(state, item.get("ordId"), item.get("clOrdId"), spec)
    if order is None or order.status is not OrderStatus.OPEN:
        # 51400: cancellation failed as the order does not exist or is finished
        raise OkxError(200, "1", "Order cancellation failed", s_code="51400")
    state.paper.cancel_order(order.id, order.symbol)
    data = {"clOrdId": order.client_order_id or "", "ordId": order.id, "sCode": "0", "sMsg": ""}
    return ok([data])


async def get_order(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await signed_request(request)
    spec = DIALECT.market(state, query.get("instId"))
    order = find_order(state, query.get("ordId"), query.get("clOrdId"), spec)
    if order is None:
        raise OkxError(200, "51603", "Order does not exist")
    return ok([order_json(order, spec)])


async def pending_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await signed_request(request)
    spec = DIALECT.named_market(state, query.get("instId"))
    found = orders_of(state, spec, open_=True)
    return ok([order_json(o, state.spec(o.symbol)) for o in reversed(found)])


async def orders_history(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await signed_request(request)
    spec = DIALECT.named_market(state, query.get("instId"))
    found = orders_of(state, spec, open_=False)
    wanted = query.get("state")
    rows = [order_json(o, state.spec(o.symbol)) for o in reversed(found)]
    return ok([r for r in rows if wanted is None or r["state"] == wanted][:100])


async def fills(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await signed_request(request)
    spec = DIALECT.named_market(state, query.get("instId"))
    limit = int_param(query.get("limit"))
    # newest first, as OKX pages them
    newest = newest_trades(
        state, spec, int_param(query.get("begin")), min(100 if limit is None else limit, 100)
    )
    return ok([trade_json(t, state.spec(t.symbol)) for t in newest])


def add_routes(app: web.Application) -> None:
    """Register the OKX v5 routes."""
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "public/time", server_time),
        ("GET", "public/instruments", instruments),
        ("GET", "market/ticker", ticker),
        ("GET", "market/tickers", tickers),
        ("GET", "account/balance", balance),
        ("POST", "trade/order", place_order),
        ("POST", "trade/batch-orders", place_order),
        ("POST", "trade/cancel-order", cancel_order),
        ("GET", "trade/order", get_order),
        ("GET", "trade/orders-pending", pending_orders),
        ("GET", "trade/orders-history", orders_history),
        ("GET", "trade/fills-history", fills),
        ("GET", "trade/fills", fills),
    ]
    DIALECT.add_routes(app, routes)
