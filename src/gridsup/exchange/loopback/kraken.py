"""The loopback's Kraken spot REST dialect: the routes ccxt's ``kraken`` class calls for
a grid, signed as Kraken signs (API-Key, API-Sign = HMAC-SHA512 of the path and
SHA256(nonce + body) under the base64 secret; a nonce that must grow per key),
answered in Kraken's shapes (``{"error": [], "result": {...}}``) as ccxt's recorded
answers show them (shared/data/ccxt-static/kraken.json). Fees are charged in quote,
on buys and sells (``FEE_MODE``: Kraken's spot default, ``oflags`` "fciq"; a buy locks
its cost plus the fee), whatever the shared account's rule; ``cl_ord_id`` is the
client order id."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import PLACED_ORDER, json_answer, state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.venue_common import (
    LIMIT_RETRY_AT,
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
from gridsup.exchange.paper.fees import FeeMode
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType

__all__ = [
    "FEE_MODE",
    "KEY_HEADER",
    "PREFIX",
    "add_routes",
    "fault_answer",
    "limit_answer",
    "limit_headers",
]

PREFIX = "/0/"
KEY_HEADER = "API-Key"
# Kraken charges a spot fill's fee in quote, buy or sell ("fciq"; what its answers say).
FEE_MODE = FeeMode.QUOTE
Handler = Callable[[web.Request], Awaitable[web.Response]]
# Kraken's asset codes where they differ from the unified ones.
_ASSETS = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR"}
_PAIR_BASE = {"BTC": "XBT"}
# Last nonce seen per API key (Kraken: a nonce must grow with every private call).
NONCES: web.AppKey[dict[str, int]] = web.AppKey("kraken_nonces", dict)


class KrakenError(Exception):
    """A Kraken error answer: HTTP 200 with ``{"error": ["EClass:Message"]}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def answer(self) -> web.Response:
        return json_answer({"error": [self.message]})


def _error_for(exc: errors.ExchangeError) -> KrakenError:
    match exc:
        case errors.DuplicateOrder():
            return KrakenError("EOrder:Duplicate order")
        case errors.InsufficientFunds():
            return KrakenError("EOrder:Insufficient funds")
        case errors.BadSymbol():
            return KrakenError("EQuery:Unknown asset pair")
        case errors.OrderNotFound():
            return KrakenError("EOrder:Unknown order")
        case errors.BelowMinimum():
            return KrakenError("EOrder:Order minimum not met")
        case errors.InvalidOrder():
            return KrakenError("EGeneral:Invalid arguments")
        case _:
            return KrakenError("EService:Unavailable")


def limit_answer(refusal: Refusal) -> web.Response:
    """Kraken's answer past the call counter: HTTP 200, ``EAPI:Rate limit exceeded``
    (no time named: a client waits for its model of the counter)."""
    return KrakenError("EAPI:Rate limit exceeded").answer()


def limit_headers(response: web.StreamResponse, admission: Admission) -> None:
    """Kraken sends no rate-limit headers."""


def fault_answer(fault: Fault) -> web.Response:
    """Kraken's answer to an injected fault (HTTP 200 with an error string)."""
    if isinstance(fault, RateLimit):
        return KrakenError("EAPI:Rate limit exceeded").answer()
    if isinstance(fault, Banned):
        return KrakenError("EGeneral:Temporary lockout").answer()
    return KrakenError("EAPI:Invalid nonce").answer()


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except KrakenError as exc:
            return exc.answer()
        except BinanceError:
            return KrakenError("EQuery:Unknown asset pair").answer()
        except errors.ExchangeError as exc:
            return _error_for(exc).answer()

    return guarded


def asset_code(asset: str) -> str:
    return _ASSETS.get(asset, asset)


def pair_id(spec: SymbolSpec) -> str:
    """Kraken's pair name (``XBTUSDT`` for BTC/USDT)."""
    return f"{_PAIR_BASE.get(spec.base, spec.base)}{spec.quote}"


def _spec(state: LoopbackState, venue_id: str | None, required: bool = True) -> SymbolSpec | None:
    spec = spec_by(state, venue_id, pair_id)
    if spec is None and (required or venue_id):
        raise KrakenError("EQuery:Unknown asset pair")
    return spec


async def _private(request: web.Request) -> dict[str, str]:
    """Check Kraken's signature and nonce; return the form fields.

    Raises:
        KrakenError: EAPI:Invalid key, EAPI:Invalid signature, EAPI:Invalid nonce.
    """
    state = state_of(request)
    key = request.headers.get("API-Key", "")
    secret = state.keys.get(key)
    if secret is None:
        raise KrakenError("EAPI:Invalid key")
    body = await request.text() if request.can_read_body else ""
    fields = dict(parse_qsl(body, keep_blank_values=True))
    nonce = fields.get("nonce", "")
    if not nonce.isdigit():
        raise KrakenError("EAPI:Invalid nonce")
    try:
        raw_secret = base64.b64decode(secret, validate=True)
    except ValueError:
        raise KrakenError("EAPI:Invalid key") from None
    digest = hashlib.sha256((nonce + body).encode()).digest()
    expected = base64.b64encode(
        hmac.new(raw_secret, request.path.encode() + digest, hashlib.sha512).digest()
    ).decode()
    if not hmac.compare_digest(expected, request.headers.get("API-Sign", "")):
        raise KrakenError("EAPI:Invalid signature")
    seen = request.app[NONCES]
    if int(nonce) <= seen.get(key, 0):
        raise KrakenError("EAPI:Invalid nonce")
    seen[key] = int(nonce)
    return fields


def _ok(result: Any) -> web.Response:
    return json_answer({"error": [], "result": result})


def _seconds(ms: int) -> float:
    return ms / 1000


# -- shapes -----------------------------------------------------------------------------


def _status(order: Order) -> str:
    match order.status:
        case OrderStatus.OPEN:
            return "open"
        case OrderStatus.CLOSED:
            return "closed"
        case OrderStatus.EXPIRED:
            return "expired"
        case _:
            return "canceled"


def _descr(order: Order, spec: SymbolSpec) -> dict[str, Any]:
    price = num(order.price) if order.price is not None else "0"
    text = f"{order.side.value} {num(order.amount)} {pair_id(spec)} @ "
    text += f"limit {price}" if order.type is OrderType.LIMIT else "market"
    return {
        "pair": pair_id(spec),
        "type": order.side.value,
        "ordertype": order.type.value,
        "price": price,
        "price2": "0",
        "leverage": "none",
        "order": text,
        "close": "",
    }


def order_json(order: Order, spec: SymbolSpec) -> dict[str, Any]:
    """An order as OpenOrders, ClosedOrders and QueryOrders show it (keyed by txid)."""
    data: dict[str, Any] = {
        "refid": None,
        "userref": None,
        "cl_ord_id": order.client_order_id,
        "status": _status(order),
        "opentm": _seconds(order.timestamp),
        "starttm": 0,
        "expiretm": 0,
        "descr": _descr(order, spec),
        "vol": num(order.amount),
        "vol_exec": num(order.filled),
        "cost": num((order.average or Decimal(0)) * order.filled),
        "fee": num(order.fee),
        "price": num(order.average) if order.filled else "0",
        "stopprice": "0",
        "limitprice": "0",
        "misc": "",
        "oflags": "fciq",
    }
    if order.status is not OrderStatus.OPEN:
        data["closetm"] = _seconds(order.timestamp)
        data["reason"] = "User requested" if order.status is OrderStatus.CANCELED else None
    return data


def trade_json(trade: Trade, spec: SymbolSpec) -> dict[str, Any]:
    """One execution as TradesHistory lists it (keyed by trade id)."""
    return {
        "ordertxid": trade.order_id,
        "postxid": "",
        "pair": pair_id(spec),
        "time": _seconds(trade.timestamp),
        "type": trade.side.value,
        "ordertype": "limit",
        "price": num(trade.price),
        "cost": num(trade.price * trade.amount),
        "fee": num(trade.fee),
        "vol": num(trade.amount),
        "margin": "0",
        "misc": "",
        "trade_id": int(trade.id) if trade.id.isdigit() else trade.id,
        "maker": not trade.taker,
    }


# -- public -----------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    now = state_of(request).clock()
    return _ok({"unixtime": now // 1000, "rfc1123": ""})


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
            "wsname": f"{_PAIR_BASE.get(s.base, s.base)}/{s.quote}",
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
    return _ok(result)


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
    return _ok(result)


# -- private ----------------------------------------------------------------------------


async def balance_ex(request: web.Request) -> web.Response:
    state = state_of(request)
    await _private(request)
    account = state.paper.balance()
    return _ok(
        {
            asset_code(asset): {
                "balance": num(account.total(asset)),
                "hold_trade": num(account.used.get(asset, Decimal(0))),
            }
            for asset in sorted(set(account.free) | set(account.used))
        }
    )


async def add_order(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await _private(request)
    spec = _spec(state, fields.get("pair"))
    assert spec is not None
    side, kind = side_of(fields.get("type", "")), order_type(fields.get("ordertype", ""))
    amount, price = decimal_param(fields.get("volume")), decimal_param(fields.get("price"))
    if side is None or kind is None or amount is None or (kind.value == "limit" and not price):
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
        spec,
        side,
        kind,
        amount,
        price if kind.value == "limit" else None,
        client_id,
        fee_mode=FEE_MODE,
    )
    request[PLACED_ORDER] = order.id
    return _ok({"descr": {"order": _descr(order, spec)["order"]}, "txid": [order.id]})


async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await _private(request)
    order = find_order(state, fields.get("txid"), fields.get("cl_ord_id"), None)
    if order is None or order.status is not OrderStatus.OPEN:
        raise KrakenError("EOrder:Unknown order")
    penalty = state.kraken_orders.cancel_penalty(order.timestamp)
    retry_at = state.kraken_orders.take(pair_id(state.spec(order.symbol)), penalty)
    if retry_at is not None:
        request[LIMIT_RETRY_AT] = retry_at
        raise KrakenError("EOrder:Rate limit exceeded")
    state.paper.cancel_order(order.id, order.symbol)
    return _ok({"count": 1})


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
    fields = await _private(request)
    return _ok({"open": _listed(state, fields, open_=True)})


async def closed_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await _private(request)
    listed = _listed(state, fields, open_=False)
    return _ok({"closed": listed, "count": len(listed)})


async def query_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await _private(request)
    result = {}
    for txid in fields.get("txid", "").split(","):
        order = find_order(state, txid, None, None)
        if order is None:
            raise KrakenError("EOrder:Invalid order")
        result[order.id] = order_json(order, state.spec(order.symbol))
    return _ok(result)


async def trades_history(request: web.Request) -> web.Response:
    state = state_of(request)
    fields = await _private(request)
    found = trades_of(state, state.specs.values())
    start = fields.get("start", "")
    if start.replace(".", "", 1).isdigit():
        found = [t for t in found if t.timestamp / 1000 > float(start)]
    newest = list(reversed(found))[:50]
    trades = {t.id: trade_json(t, state.spec(t.symbol)) for t in newest}
    return _ok({"trades": trades, "count": len(found)})


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
    for method, path, handler in routes:
        app.router.add_route(method, PREFIX + path, _guard(handler))
