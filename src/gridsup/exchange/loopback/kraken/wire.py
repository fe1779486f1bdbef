"""Kraken spot REST's wire: where it lives, how a private request is signed (API-Key,
API-Sign = HMAC-SHA512 of the path and SHA256(nonce + body) under the base64 secret; a
nonce that must grow per key), its answers (``{"error": [], "result": {...}}``, errors
as HTTP 200 with ``"EClass:Message"``), its answers to limits and injected faults, its
asset and pair names, and the shapes of orders and trades as ccxt's recorded answers
show them (shared/data/ccxt-static/kraken.json)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import json_answer, state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.venue_common import VenueDialect, VenueError, num
from gridsup.exchange.loopback.venue_limits import Admission, Refusal
from gridsup.exchange.paper.fees import FeeMode
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, OrderType

__all__ = [
    "DIALECT",
    "FEE_MODE",
    "KEY_HEADER",
    "NONCES",
    "PREFIX",
    "KrakenError",
    "asset_code",
    "describe",
    "fault_answer",
    "limit_answer",
    "limit_headers",
    "ok",
    "order_json",
    "pair_id",
    "signed_request",
    "trade_json",
    "ws_name",
]

PREFIX = "/0/"
KEY_HEADER = "API-Key"
# Kraken charges a spot fill's fee in quote, buy or sell ("fciq"; what its answers say).
FEE_MODE = FeeMode.QUOTE
# Kraken's asset codes where they differ from the unified ones.
_ASSETS = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR"}
_PAIR_BASE = {"BTC": "XBT"}
# Last nonce seen per API key (Kraken: a nonce must grow with every private call).
NONCES: web.AppKey[dict[str, int]] = web.AppKey("kraken_nonces", dict)


class KrakenError(VenueError):
    """A Kraken error answer: HTTP 200 with ``{"error": ["EClass:Message"]}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def answer(self, now_ms: int = 0) -> web.Response:
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


def asset_code(asset: str) -> str:
    return _ASSETS.get(asset, asset)


def pair_id(spec: SymbolSpec) -> str:
    """Kraken's pair name (``XBTUSDT`` for BTC/USDT)."""
    return f"{_PAIR_BASE.get(spec.base, spec.base)}{spec.quote}"


def ws_name(spec: SymbolSpec) -> str:
    """Kraken's websocket name of a pair (``XBT/USDT`` for BTC/USDT)."""
    return f"{_PAIR_BASE.get(spec.base, spec.base)}/{spec.quote}"


DIALECT = VenueDialect(
    prefix=PREFIX,
    market_id=pair_id,
    unknown_market=lambda: KrakenError("EQuery:Unknown asset pair"),
    error_for=_error_for,
)


async def signed_request(request: web.Request) -> dict[str, str]:
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


def ok(result: Any) -> web.Response:
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


def describe(order: Order, spec: SymbolSpec) -> dict[str, Any]:
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
        "descr": describe(order, spec),
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
