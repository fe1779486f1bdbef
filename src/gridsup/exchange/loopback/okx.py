"""The loopback's OKX v5 dialect (spot, cash trade mode): the routes ccxt's ``okx``
class calls for a grid, signed as OKX signs (OK-ACCESS-KEY, -SIGN, -TIMESTAMP,
-PASSPHRASE), answered in OKX's shapes (``{"code": "0", "data": [...], "msg": ""}``)
as ccxt's recorded answers show them (shared/data/ccxt-static/okx.json)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from gridsup.exchange import errors
from gridsup.exchange.loopback.context import PLACED_ORDER, json_answer, state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit
from gridsup.exchange.loopback.markets import SymbolSpec
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.venue_common import (
    PASSPHRASES,
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
from gridsup.messages.common import OrderStatus, Side

__all__ = ["KEY_HEADER", "PREFIX", "add_routes", "fault_answer", "limit_answer", "limit_headers"]

PREFIX = "/api/v5/"
KEY_HEADER = "OK-ACCESS-KEY"
# OKX refuses a request whose timestamp is more than 30 s off its clock (50102).
MAX_SKEW_MS = 30_000
Handler = Callable[[web.Request], Awaitable[web.Response]]


class OkxError(Exception):
    """An OKX error answer: HTTP status, code, message (and the per-order sCode)."""

    def __init__(self, status: int, code: str, msg: str, *, s_code: str | None = None) -> None:
        super().__init__(f"{code} {msg}")
        self.status, self.code, self.msg, self.s_code = status, code, msg, s_code

    def answer(self) -> web.Response:
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


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except OkxError as exc:
            return exc.answer()
        except BinanceError:  # the shared state's unknown-symbol refusal
            return OkxError(400, "51001", "Instrument ID does not exist").answer()
        except errors.ExchangeError as exc:
            return _error_for(exc).answer()

    return guarded


def inst_id(spec: SymbolSpec) -> str:
    return f"{spec.base}-{spec.quote}"


def _spec(state: LoopbackState, venue_id: str | None, required: bool = True) -> SymbolSpec | None:
    spec = spec_by(state, venue_id, inst_id)
    if spec is None and (required or venue_id):
        raise OkxError(400, "51001", "Instrument ID does not exist")
    return spec


async def _private(request: web.Request) -> tuple[dict[str, str], str]:
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


def _ok(data: list[Any]) -> web.Response:
    return json_answer({"code": "0", "data": data, "msg": ""})


# -- public -----------------------------------------------------------------------------


async def server_time(request: web.Request) -> web.Response:
    return _ok([{"ts": str(state_of(request).clock())}])


async def instruments(request: web.Request) -> web.Response:
    state = state_of(request)
    if request.query.get("instType", "SPOT") != "SPOT":
        return _ok([])
    return _ok(
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
    spec = _spec(state, request.query.get("instId"))
    assert spec is not None
    return _ok([_ticker(state, spec)])


async def tickers(request: web.Request) -> web.Response:
    state = state_of(request)
    return _ok([_ticker(state, s) for s in state.specs.values()])


# -- private ----------------------------------------------------------------------------


async def balance(request: web.Request) -> web.Response:
    state = state_of(request)
    await _private(request)
    account = state.paper.balance()
    now = str(state.clock())
    details = [
        {
            "ccy": asset,
            "availBal": num(account.free.get(asset, Decimal(0))),
            "availEq": num(account.free.get(asset, Decimal(0))),
            "cashBal": num(account.total(asset)),
            "eq": num(account.total(asset)),
            "frozenBal": num(account.used.get(asset, Decimal(0))),
            "ordFrozen": num(account.used.get(asset, Decimal(0))),
            "liab": "0",
            "uTime": now,
            "upl": "0",
        }
        for asset in sorted(set(account.free) | set(account.used))
    ]
    return _ok([{"adjEq": "", "details": details, "totalEq": "0", "uTime": now}])


def _place(state: LoopbackState, item: dict[str, Any]) -> tuple[Order, dict[str, Any]]:
    spec = _spec(state, item.get("instId"))
    assert spec is not None
    if item.get("tdMode") != "cash":
        raise OkxError(200, "1", "Parameter tdMode error", s_code="51000")
    side, kind = side_of(str(item.get("side", ""))), order_type(str(item.get("ordType", "")))
    amount, price = decimal_param(item.get("sz")), decimal_param(item.get("px"))
    if side is None or kind is None or amount is None:
        raise OkxError(200, "1", "Parameter error", s_code="51000")
    if kind.value == "limit" and price is None:
        raise OkxError(200, "1", "Parameter px error", s_code="51000")
    if kind.value == "market" and side is Side.BUY and item.get("tgtCcy") != "base_ccy":
        raise OkxError(200, "1", "market buys are sized in base here", s_code="51000")
    client_id = str(item.get("clOrdId") or "")
    if not client_id.isalnum() or len(client_id) > 32:
        raise OkxError(200, "1", "Parameter clOrdId error", s_code="51000")
    order, _ = state.place(
        spec, side, kind, amount, price if kind.value == "limit" else None, client_id
    )
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
    _, body = await _private(request)
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
    _, body = await _private(request)
    item = json.loads(body or "{}")
    spec = _spec(state, item.get("instId"))
    order = find_order(state, item.get("ordId"), item.get("clOrdId"), spec)
    if order is None or order.status is not OrderStatus.OPEN:
        # 51400: cancellation failed as the order does not exist or is finished
        raise OkxError(200, "1", "Order cancellation failed", s_code="51400")
    state.paper.cancel_order(order.id, order.symbol)
    data = {"clOrdId": order.client_order_id or "", "ordId": order.id, "sCode": "0", "sMsg": ""}
    return _ok([data])


async def get_order(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await _private(request)
    spec = _spec(state, query.get("instId"))
    assert spec is not None
    order = find_order(state, query.get("ordId"), query.get("clOrdId"), spec)
    if order is None:
        raise OkxError(200, "51603", "Order does not exist")
    return _ok([order_json(order, spec)])


async def pending_orders(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await _private(request)
    spec = _spec(state, query.get("instId"), required=False)
    found = orders_of(state, spec, open_=True)
    return _ok([order_json(o, state.spec(o.symbol)) for o in reversed(found)])


async def orders_history(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await _private(request)
    spec = _spec(state, query.get("instId"), required=False)
    found = orders_of(state, spec, open_=False)
    wanted = query.get("state")
    rows = [order_json(o, state.spec(o.symbol)) for o in reversed(found)]
    return _ok([r for r in rows if wanted is None or r["state"] == wanted][:100])


async def fills(request: web.Request) -> web.Response:
    state = state_of(request)
    query, _ = await _private(request)
    spec = _spec(state, query.get("instId"), required=False)
    found = trades_of(state, [spec] if spec else state.specs.values())
    begin = int(query["begin"]) if query.get("begin", "").isdigit() else None
    found = [t for t in found if begin is None or t.timestamp >= begin]
    limit = int(query["limit"]) if query.get("limit", "").isdigit() else 100
    # newest first, as OKX pages them
    newest = list(reversed(found))[: min(limit, 100)]
    return _ok([trade_json(t, state.spec(t.symbol)) for t in newest])


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
    for method, path, handler in routes:
        app.router.add_route(method, PREFIX + path, _guard(handler))
