"""Routes of Binance's public spot REST v3 endpoints that ccxt's ``binance`` class calls:
ping, time, exchangeInfo, ticker/price, ticker/24hr, ticker/bookTicker, klines (no key,
no signature)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from gridsup.exchange.loopback.context import json_answer, state_of
from gridsup.exchange.loopback.markets import SymbolSpec, symbol_info
from gridsup.exchange.loopback.state import INTERVALS_MS, LoopbackState
from gridsup.exchange.loopback.wire import BinanceError, fixed, int_field

__all__ = ["add_public_api_routes"]


def _symbols_param(request: web.Request) -> list[SymbolSpec]:
    """The markets a public request asks for (``symbol``, ``symbols`` or all)."""
    state = state_of(request)
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


async def ping(request: web.Request) -> web.Response:
    return json_answer({})


async def server_time(request: web.Request) -> web.Response:
    return json_answer({"serverTime": state_of(request).server_time()})


async def exchange_info(request: web.Request) -> web.Response:
    state = state_of(request)
    return json_answer(
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
    open_, high, low, volume, open_time = state.day_stats(spec.id, last, now)
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
    state = state_of(request)
    specs = _symbols_param(request)
    data = [_ticker_24hr(state, s) for s in specs]
    single = "symbol" in request.query
    return json_answer(data[0] if single else data)


async def ticker_price(request: web.Request) -> web.Response:
    state = state_of(request)
    data = [
        {"symbol": s.id, "price": fixed(state.paper.last_price(s.symbol) or Decimal(0))}
        for s in _symbols_param(request)
    ]
    return json_answer(data[0] if "symbol" in request.query else data)


async def book_ticker(request: web.Request) -> web.Response:
    state = state_of(request)
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
    return json_answer(data[0] if "symbol" in request.query else data)


async def klines(request: web.Request) -> web.Response:
    state = state_of(request)
    params = dict(request.query)
    spec = state.spec(params.get("symbol"))
    limit = min(int_field(params, "limit") or 500, 1000)
    candles = state.klines(
        spec.id,
        params.get("interval", ""),
        int_field(params, "startTime"),
        int_field(params, "endTime"),
        limit,
    )
    step = INTERVALS_MS[params["interval"]]
    return json_answer(
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


def add_public_api_routes(app: web.Application) -> None:
    """Register the public /api/v3 routes on ``app``."""
    app.router.add_get("/api/v3/ping", ping)
    app.router.add_get("/api/v3/time", server_time)
    app.router.add_get("/api/v3/exchangeInfo", exchange_info)
    app.router.add_get("/api/v3/ticker/24hr", ticker_24hr)
    app.router.add_get("/api/v3/ticker/price", ticker_price)
    app.router.add_get("/api/v3/ticker/bookTicker", book_ticker)
    app.router.add_get("/api/v3/klines", klines)
