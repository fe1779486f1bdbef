"""Admin routes of the loopback exchange (not Binance): prices, candles, faults, and the
server's record of accepted orders. For tests and demos on 127.0.0.1 only.

- ``POST /admin/price``   ``{"symbol": "BTC/USDT", "price": "42000.5", "timestamp": ms?}``
- ``POST /admin/candle``  ``{"symbol": ..., "timestamp": ms, "open": ..., ..., "volume": ...}``
- ``POST /admin/faults``  one fault or a list (see ``faults.py``); ``GET`` lists the
  pending ones, ``DELETE`` clears them.
- ``GET /admin/orders``   every order ever accepted, and order ids per client id.
- ``GET /admin/balance``  the paper account's free/used balances.
- ``GET /admin/requests`` how many requests each ``METHOD /api/path`` received.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from aiohttp import web

from gridsup.exchange.loopback.api import STATE
from gridsup.exchange.loopback.faults import decode_faults
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


async def requests(request: web.Request) -> web.Response:
    return _json(dict(request.app[STATE].requests))


def add_admin_routes(app: web.Application) -> None:
    """Register the /admin routes on ``app``."""
    app.router.add_post("/admin/price", set_price)
    app.router.add_post("/admin/candle", feed_candle)
    app.router.add_post("/admin/faults", add_faults)
    app.router.add_get("/admin/faults", list_faults)
    app.router.add_delete("/admin/faults", clear_faults)
    app.router.add_get("/admin/orders", orders)
    app.router.add_get("/admin/balance", balance)
    app.router.add_get("/admin/requests", requests)
