"""Kraken's spot REST routes that ccxt's ``kraken`` class calls for a grid: server time,
asset pairs, tickers, balances, adding, cancelling and querying orders, trade history
(the wire they speak: ``wire.py``). Orders pay fees in quote (``FEE_MODE``) and count
against Kraken's per-pair order counter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from gridsup.exchange.loopback.context import PLACED_ORDER, state_of
from gridsup.exchange.loopback.kraken.wire import (
    DIALECT,
    FEE_MODE,
    NONCES,
    KrakenError,
    asset_code,
    describe,
    ok,
    order_json,
    pair_id,
    signed_request,
    trade_json,
    ws_name,
)
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.venue_common import (
    LIMIT_RETRY_AT,
    Handler,
    find_order,
    holdings,
    market_day,
    num,
    order_request,
    orders_of,
    trades_of,
)
from gridsup.messages.common import OrderStatus, OrderType

__all__ = ["add_routes"]


# -- public -----------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    now = state_of(request).clock()
    return ok({"unixtime": now // 1000, "rfc1123": ""})


def _decimals(step: Decimal) -> int:
    return max(-step.normalize().as_tuple().exponent, 0)  # type: ignore[operator]


async def asset_pairs(request: web.Request) -> web.Response:
    state = state_of(request)
    result = {}
    for s in state.specs.values():
        fee = float(s.taker_fee * 100)
        maker = float(s.maker_fee * 100)
        result[pair_id(s)] = {
            "altname": pair_id(s),
            "wsname": ws_name(s),
            "aclass_base": "currency",
            "base": asset_code(s.base),
            "aclass_quote": "currency",
            "quote": asset_code(s.quote),
            "lot": "unit",
            "cost_decimals": 8,
            "pair_decimals": _decimals(s.tick_size),
            "lot_decimals": _decimals(s.step_size),
            "lot_multiplier": 1,
            "leverage_buy": [],
            "leverage_sell": [],
            "fees": [[0, fee]],
            "fees_maker": [[0, maker]],
            "fee_volume_currency": "ZUSD",
            "margin_call": 80,
            "margin_stop": 40,
            "ordermin": num(s.min_qty),
            "costmin": num(s.min_notional),
            "tick_size": num(s.tick_size),
            "status": "online",
        }
    return ok(result)


async def ticker(request: web.Request) -> web.Response:
    state = state_of(request)
    wanted = request.query.get("pair")
    specs = [s for s in state.specs.values() if wanted is None or pair_id(s) in wanted.split(",")]
    if wanted and not specs:
        raise KrakenError("EQuery:Unknown asset pair")
    result = {}
    for spec in specs:
        last, (open_, high, low, volume, _) = market_day(state, spec)
        result[pair_id(spec)] = {
            "a": [num(last + spec.tick_size), "1", "1.000"],
            "b": [num(last), "1", "1.000"],
            "c": [num(last), "0"],
            "v": [num(volume), num(volume)],
            "p": [num(last), num(last)],
            "t": [0, 0],
            "l": [num(low), num(low)],
            "h": [num(high), num(high)],
            "o": num(open_),
        }
    return ok(result)


# -- private ----------------------------------------------------------------------------


async def balance_ex(request: web.Request) -> web.Response:
    state = state_of(request)
    await signed_request(request)
    return ok(
        {
            asset_code(h.asset): {"balance": num(h.total), "hold_trade": num(h.used)}
            for h in holdings(state.paper.balance())
        }
    )


async def add_order(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await signed_request(request)
    spec = DIALECT.market(state, fields.get("pair"))
    asked = order_request(
        fields.get("type"), fields.get("ordertype"), fields.get("volume"), fields.get("price")
    )
    if asked is None or (asked.type is OrderType.LIMIT and asked.price is None):
        raise KrakenError("EGeneral:Invalid arguments")
    if "userref" in fields and "cl_ord_id" in fields:
        raise KrakenError("EGeneral:Invalid arguments:cl_ord_id and userref are exclusive")
    client_id = fields.get("cl_ord_id", "")
    is_short_uuid = len(client_id) == 32 and all(c in "0123456789abcdef" for c in client_id)
    if client_id and not is_short_uuid and (len(client_id) > 18 or not client_id.isalnum()):
        raise KrakenError("EGeneral:Invalid arguments:cl_ord_id")
    retry_at = state.kraken_orders.take(pair_id(spec), 1)
    if retry_at is not None:
        request[LIMIT_RETRY_AT] = retry_at
        raise KrakenError("EOrder:Rate limit exceeded")
    # Kraken refuses an id only while an order with it is OPEN (the paper engine refuses
    # any id it has seen: the stricter answer, see docs/exchange.md).
    order, _ = state.place(
        spec, asked.side, asked.type, asked.amount, asked.price, client_id, fee_mode=FEE_MODE
    )
    request[PLACED_ORDER] = order.id
    return ok({"descr": {"order": describe(order, spec)["order"]}, "txid": [order.id]})


async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await signed_request(request)
    order = find_order(state, fields.get("txid"), fields.get("cl_ord_id"), None)
    if order is None or order.status is not OrderStatus.OPEN:
        raise KrakenError("EOrder:Unknown order")
    penalty = state.kraken_orders.cancel_penalty(order.timestamp)
    retry_at = state.kraken_orders.take(pair_id(state.spec(order.symbol)), penalty)
    if retry_at is not None:
        request[LIMIT_RETRY_AT] = retry_at
        raise KrakenError("EOrder:Rate limit exceeded")
    state.paper.cancel_order(order.id, order.symbol)
    return ok({"count": 1})


def _listed(state: LoopbackState, fields: dict[str, str], *, open_: bool) -> dict[str, Any]:
    client_id = fields.get("cl_ord_id") or None
    found = [
        o
        for o in orders_of(state, None, open_=open_)
        if client_id is None or o.client_order_id == client_id
    ]
    return {o.id: order_json(o, state.spec(o.symbol)) for o in reversed(found[-50:])}


async def open_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await signed_request(request)
    return ok({"open": _listed(state, fields, open_=True)})


async def closed_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await signed_request(request)
    listed = _listed(state, fields, open_=False)
    return ok({"closed": listed, "count": len(listed)})


async def query_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await signed_request(request)
    result = {}
    for txid in fields.get("txid", "").split(","):
        order = find_order(state, txid, None, None)
        if order is None:
            raise KrakenError("EOrder:Invalid order")
        result[order.id] = order_json(order, state.spec(order.symbol))
    return ok(result)


async def trades_history(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await signed_request(request)
    found = trades_of(state, state.specs.values())
    start = fields.get("start", "")
    if start.replace(".", "", 1).isdigit():
        found = [t for t in found if t.timestamp / 1000 > float(start)]
    newest = list(reversed(found))[:50]
    trades = {t.id: trade_json(t, state.spec(t.symbol)) for t in newest}
    return ok({"trades": trades, "count": len(found)})


def add_routes(app: web.Application) -> None:
    """Register the Kraken spot REST routes."""
    app[NONCES] = {}
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "public/Time", server_time),
        ("GET", "public/AssetPairs", asset_pairs),
        ("GET", "public/Ticker", ticker),
        ("POST", "private/BalanceEx", balance_ex),
        ("POST", "private/AddOrder", add_order),
        ("POST", "private/CancelOrder", cancel_order),
        ("POST", "private/OpenOrders", open_orders),
        ("POST", "private/ClosedOrders", closed_orders),
        ("POST", "private/QueryOrders", query_orders),
        ("POST", "private/TradesHistory", trades_history),
    ]
    DIALECT.add_routes(app, routes)
