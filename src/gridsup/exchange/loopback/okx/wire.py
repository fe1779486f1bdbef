"""OKX v5's wire: where it lives, how a private request is signed (OK-ACCESS-KEY, -SIGN,
-TIMESTAMP, -PASSPHRASE), its error answers (``{"code": "51001", ...}``, a per-order
``sCode``), its answers to limits and injected faults, and the shapes of orders and
fills as ccxt's recorded answers show them (shared/data/ccxt-static/okx.json)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import json_answer, state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.venue_common import PASSPHRASES, VenueDialect, VenueError, num
from gridsup.exchange.loopback.venue_limits import Admission, Refusal
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus, Side

__all__ = [
    "DIALECT",
    "KEY_HEADER",
    "PREFIX",
    "OkxError",
    "fault_answer",
    "inst_id",
    "limit_answer",
    "limit_headers",
    "ok",
    "order_json",
    "signed_request",
    "trade_json",
]

PREFIX = "/api/v5/"
KEY_HEADER = "OK-ACCESS-KEY"
# OKX refuses a request whose timestamp is more than 30 s off its clock (50102).
MAX_SKEW_MS = 30_000


class OkxError(VenueError):
    """An OKX error answer: HTTP status, code, message (and the per-order sCode)."""

    def __init__(self, status: int, code: str, msg: str, *, s_code: str | None = None) -> None:
        super().__init__(f"{code} {msg}")
        self.status, self.code, self.msg, self.s_code = status, code, msg, s_code

    def answer(self, now_ms: int = 0) -> web.Response:
        if self.s_code is None:
            return json_answer({"code": self.code, "data": [], "msg": self.msg}, self.status)
        data = [{"clOrdId": "", "ordId": "", "sCode": self.s_code, "sMsg": self.msg, "tag": ""}]
        return json_answer({"code": "1", "data": data, "msg": "All operations failed"})


def _error_for(exc: errors.ExchangeError) -> OkxError:
    match exc:
        case errors.DuplicateOrder():
            return OkxError(200, "1", "Duplicated clOrdId", s_code="51016")
        case errors.InsufficientFunds():
            return OkxError(200, "1", "Insufficient balance", s_code="51008")
        case errors.BadSymbol():
            return OkxError(400, "51001", "Instrument ID does not exist")
        case errors.OrderNotFound():
            return OkxError(200, "51603", "Order does not exist")
        case errors.InvalidOrder():
            return OkxError(200, "1", f"Order size or price invalid: {exc}", s_code="51000")
        case _:
            return OkxError(500, "50001", "Service temporarily unavailable")


def inst_id(spec: SymbolSpec) -> str:
    return f"{spec.base}-{spec.quote}"


DIALECT = VenueDialect(
    prefix=PREFIX,
    market_id=inst_id,
    unknown_market=lambda: OkxError(400, "51001", "Instrument ID does not exist"),
    error_for=_error_for,
)


def limit_answer(refusal: Refusal) -> web.Response:
    """OKX's answer past an endpoint's limit: HTTP 429, code 50011, no Retry-After (OKX
    names no time: a client waits out the 2 s window)."""
    return json_answer({"code": "50011", "data": [], "msg": "Too Many Requests"}, 429)


def limit_headers(response: web.StreamResponse, admission: Admission) -> None:
    """OKX sends no rate-limit headers."""


def fault_answer(fault: Fault) -> web.Response:
    """OKX's answer to an injected rate limit (429, 50011) or timestamp fault (50102)."""
    if isinstance(fault, RateLimit | Banned):
        return json_answer(
            {"code": "50011", "data": [], "msg": "Too Many Requests"},
            429,
            {"Retry-After": str(fault.retry_after)},
        )
    return json_answer({"code": "50102", "data": [], "msg": "Timestamp request expired"}, 401)


async def signed_request(request: web.Request) -> tuple[dict[str, str], str]:
    """Check OKX's signature; return the query and the body text.

    Raises:
        OkxError: 50103-50105 missing key/passphrase, 50111 unknown key, 50113 bad
            signature, 50102 timestamp out of range.
    """
    state = state_of(request)
    headers = request.headers
    key = headers.get("OK-ACCESS-KEY")
    if not key:
        raise OkxError(401, "50103", "Request header OK-ACCESS-KEY cannot be empty.")
    secret = state.keys.get(key)
    if secret is None:
        raise OkxError(401, "50111", "Invalid OK-ACCESS-KEY.")
    if headers.get("OK-ACCESS-PASSPHRASE") != request.app[PASSPHRASES].get(key):
        raise OkxError(401, "50105", "Request header OK-ACCESS-PASSPHRASE incorrect.")
    stamp = headers.get("OK-ACCESS-TIMESTAMP", "")
    try:
        sent_ms = int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise OkxError(401, "50107", "Invalid OK-ACCESS-TIMESTAMP.") from None
    if abs(state.clock() - sent_ms) > MAX_SKEW_MS:
        raise OkxError(401, "50102", "Timestamp request expired")
    body = await request.text() if request.can_read_body else ""
    path = request.path + (f"?{request.query_string}" if request.query_string else "")
    expected = base64.b64encode(
        hmac.new(
            secret.encode(), (stamp + request.method + path + body).encode(), hashlib.sha256
        ).digest()
    ).decode()
    if not hmac.compare_digest(expected, headers.get("OK-ACCESS-SIGN", "")):
        raise OkxError(401, "50113", "Invalid Sign")
    return dict(request.query), body


def ok(data: list[Any]) -> web.Response:
    return json_answer({"code": "0", "data": data, "msg": ""})


# -- shapes -----------------------------------------------------------------------------


def _state_text(order: Order) -> str:
    match order.status:
        case OrderStatus.OPEN:
            return "partially_filled" if order.filled > 0 else "live"
        case OrderStatus.CLOSED:
            return "filled"
        case _:
            return "canceled"


def _fee_text(fee: Decimal) -> str:
    """OKX reports a charged fee as a negative number."""
    return num(-fee) if fee else "0"


def order_json(order: Order, spec: SymbolSpec) -> dict[str, Any]:
    """An order as ``GET /api/v5/trade/order`` shows it."""
    return {
        "accFillSz": num(order.filled),
        "avgPx": num(order.average) if order.filled else "",
        "cTime": str(order.timestamp),
        "category": "normal",
        "ccy": "",
        "clOrdId": order.client_order_id or "",
        "fee": _fee_text(order.fee),
        "feeCcy": order.fee_currency or (spec.base if order.side is Side.BUY else spec.quote),
        "fillPx": "",
        "fillSz": num(order.filled),
        "fillTime": "",
        "instId": inst_id(spec),
        "instType": "SPOT",
        "ordId": order.id,
        "ordType": order.type.value,
        "px": num(order.price),
        "rebate": "0",
        "rebateCcy": spec.quote,
        "reduceOnly": "false",
        "side": order.side.value,
        "state": _state_text(order),
        "sz": num(order.amount),
        "tag": "",
        "tdMode": "cash",
        "tgtCcy": "base_ccy" if order.type.value == "market" else "",
        "tradeId": "",
        "uTime": str(order.timestamp),
    }


def trade_json(trade: Trade, spec: SymbolSpec) -> dict[str, Any]:
    """One fill as ``GET /api/v5/trade/fills-history`` lists it."""
    return {
        "side": trade.side.value,
        "fillSz": num(trade.amount),
        "fillPx": num(trade.price),
        "fee": _fee_text(trade.fee),
        "feeCcy": trade.fee_currency,
        "ordId": trade.order_id,
        "instType": "SPOT",
        "instId": inst_id(spec),
        "clOrdId": trade.client_order_id or "",
        "posSide": "net",
        "billId": trade.id,
        "tag": "",
        "execType": "T" if trade.taker else "M",
        "tradeId": trade.id,
        "fillTime": str(trade.timestamp),
        "ts": str(trade.timestamp),
    }
