"""Admin routes of the loopback exchange (not Binance): prices, candles, faults, and the
server's record of accepted orders. For tests and demos on 127.0.0.1 only.

- ``POST /admin/price``   ``{"symbol": "BTC/USDT", "price": "42000.5", "timestamp": ms?}``
- ``POST /admin/candle``  ``{"symbol": ..., "timestamp": ms, "open": ..., ..., "volume": ...}``
- ``POST /admin/faults``  one fault or a list (see ``faults.py``); ``GET`` lists the
  pending ones, ``DELETE`` clears them.
- ``GET /admin/orders``   every order ever accepted, and order ids per client id.
- ``GET /admin/balance``  the paper account's free/used balances.
- ``GET /admin/trades``   the balances and every trade the account remembers, read in
  the same instant (a venue's own trade list is paged, Bybit's 50 at a time, and the
  replay may fill an order between two reads).
- ``GET /admin/requests`` how many requests each ``METHOD /api/path`` received.
- ``GET /admin/request_log`` every API request of every dialect in order: method,
  path, time_ms, status (0: dropped unanswered), weight, used_weight, venue,
  retry_at_ms (a refusal for the rate: when a retry is first admitted); and Binance's
  limiter state.
- ``POST /admin/config``  any of ``{"bnb_fees": bool, "clock_offset_ms": int,
  "fill_pieces": int, "fill_cap": "0.001"|null, "weight_limit": int|null,
  "venue_limits": bool, "status": {"BTC/USDT": "HALT"}, "keys_refused": bool,
  "listen_key_ttl_s": float}``; answers the resulting settings.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from aiohttp import web

from gridsup.exchange.loopback.context import STATE
from gridsup.exchange.loopback.faults import decode_faults
from gridsup.exchange.loopback.filters import SymbolStatus
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.exchange.types import Candle

__all__ = ["add_admin_routes"]


class PriceUpdate(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    price: Decimal
    timestamp: int | None = None


class CandleUpdate(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    timestamp: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)


class ConfigUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings a test may change while the exchange runs (unset: unchanged)."""

    bnb_fees: bool | None = None
    clock_offset_ms: int | None = None
    fill_pieces: int | None = None
    fill_cap: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    weight_limit: int | msgspec.UnsetType | None = msgspec.UNSET
    venue_limits: bool | None = None  # OKX's, Bybit's and Kraken's limits on or off
    status: dict[str, SymbolStatus] = msgspec.field(default_factory=dict)
    keys_refused: bool | None = None  # every API key answered -2015 (REST and WS API)
    listen_key_ttl_s: float | None = None  # a listenKey's life without keepalive (3600)


_config_decoder = msgspec.json.Decoder(ConfigUpdate)
_price_decoder = msgspec.json.Decoder(PriceUpdate)
_candle_decoder = msgspec.json.Decoder(CandleUpdate)
_encoder = msgspec.json.Encoder()


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(data), status=status, content_type="application/json")


def _bad_request(exc: Exception) -> web.Response:
    return _json({"error": str(exc)}, status=400)


async def set_price(request: web.Request) -> web.Response:
    try:
        update = _price_decoder.decode(await request.read())
    except msgspec.DecodeError as exc:
        return _bad_request(exc)
    if update.price <= 0:
        return _bad_request(ValueError("price must be positive - at `$.price`"))
    trades = request.app[STATE].set_price(update.symbol, update.price, update.timestamp)
    return _json({"trades": trades})


async def feed_candle(request: web.Request) -> web.Response:
    try:
        update = _candle_decoder.decode(await request.read())
    except msgspec.DecodeError as exc:
        return _bad_request(exc)
    candle = Candle(
        update.timestamp, update.open, update.high, update.low, update.close, update.volume
    )
    trades = request.app[STATE].feed_candle(update.symbol, candle)
    return _json({"trades": trades})


async def add_faults(request: web.Request) -> web.Response:
    try:
        faults = decode_faults(await request.read())
    except msgspec.DecodeError as exc:
        return _bad_request(exc)
    state = request.app[STATE]
    state.faults.add(faults)
    return _json({"pending": state.faults.pending()})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"pending": request.app[STATE].faults.pending()})


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STATE].faults.clear()
    return _json({"pending": []})


async def orders(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json({"orders": state.accepted, "by_client_id": state.orders_by_client_id()})


async def balance(request: web.Request) -> web.Response:
    return _json(request.app[STATE].paper.balance())


async def trades(request: web.Request) -> web.Response:
    paper = request.app[STATE].paper
    return _json({"balance": paper.balance(), "trades": paper.trades()})


async def requests(request: web.Request) -> web.Response:
    return _json(dict(request.app[STATE].requests))


async def request_log(request: web.Request) -> web.Response:
    limiter = request.app[STATE].limiter
    return _json(
        {
            "requests": list(limiter.log),
            "limit": limiter.limit,
            "used_weight": limiter.used,
            "banned_until": limiter.banned_until,
            "bans": limiter.bans,
        }
    )


def _settings(state: LoopbackState) -> dict[str, object]:
    return {
        "lenient": state.lenient,
        "bnb_fees": state.bnb_fees,
        "clock_offset_ms": state.clock_offset_ms,
        "fill_pieces": state.paper.fill_pieces,
        "fill_cap": state.paper.fill_cap,
        "weight_limit": state.limiter.limit,
        "venue_limits": state.venue_limits.enabled,
        "status": {spec.symbol: state.status[spec.id] for spec in state.specs.values()},
        "keys_refused": state.keys_refused,
        "listen_key_ttl_s": state.listen_keys.ttl_ms / 1000,
    }


async def _settings_response(request: web.Request) -> web.Response:
    return _json(_settings(request.app[STATE]))


async def configure(request: web.Request) -> web.Response:
    try:
        update = _config_decoder.decode(await request.read())
    except msgspec.DecodeError as exc:
        return _bad_request(exc)
    ttl = update.listen_key_ttl_s
    if ttl is not None and not 0 < ttl <= 86_400:
        return _bad_request(ValueError("must be in (0, 86400] - at `$.listen_key_ttl_s`"))
    state = request.app[STATE]
    try:
        ids = {state.spec(symbol).id: status for symbol, status in update.status.items()}
    except BinanceError as exc:
        return _bad_request(ValueError(f"{exc.msg} - at `$.status`"))
    state.status.update(ids)
    if update.bnb_fees is not None:
        state.bnb_fees = update.bnb_fees
    if update.clock_offset_ms is not None:
        state.clock_offset_ms = update.clock_offset_ms
    if update.fill_pieces is not None:
        state.paper.fill_pieces = max(1, update.fill_pieces)
    if not isinstance(update.fill_cap, msgspec.UnsetType):
        state.paper.fill_cap = update.fill_cap
    if not isinstance(update.weight_limit, msgspec.UnsetType):
        state.limiter.limit = update.weight_limit
    if update.venue_limits is not None:
        state.venue_limits.enabled = state.kraken_orders.enabled = update.venue_limits
    if update.keys_refused is not None:
        state.refuse_keys(update.keys_refused)
    if update.listen_key_ttl_s is not None:
        state.listen_keys.ttl_ms = int(update.listen_key_ttl_s * 1000)
    return _json(_settings(state))


def add_admin_routes(app: web.Application) -> None:
    """Register the /admin routes on ``app``."""
    app.router.add_post("/admin/price", set_price)
    app.router.add_post("/admin/candle", feed_candle)
    app.router.add_post("/admin/faults", add_faults)
    app.router.add_get("/admin/faults", list_faults)
    app.router.add_delete("/admin/faults", clear_faults)
    app.router.add_get("/admin/orders", orders)
    app.router.add_get("/admin/balance", balance)
    app.router.add_get("/admin/trades", trades)
    app.router.add_get("/admin/requests", requests)
    app.router.add_get("/admin/request_log", request_log)
    app.router.add_post("/admin/config", configure)
    app.router.add_get("/admin/config", _settings_response)
