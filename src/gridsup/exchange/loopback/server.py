"""The loopback exchange's aiohttp application and a runner that serves it on
127.0.0.1 (port 0 picks a free port), with an optional price feed task."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import assert_never

import structlog
from aiohttp import web

from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.loopback.admin import add_admin_routes
from gridsup.exchange.loopback.api import add_api_routes
from gridsup.exchange.loopback.context import PLACED_ORDER, STATE
from gridsup.exchange.loopback.faults import (
    Banned,
    Canned,
    Fault,
    Latency,
    RateLimit,
    ResponseLost,
    ServerError,
    TimestampError,
)
from gridsup.exchange.loopback.limits import retry_after_text, weight
from gridsup.exchange.loopback.public_api import add_public_api_routes
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.urls import binance_url_overrides
from gridsup.exchange.loopback.venues import (
    FAULT_PREFIXES,
    add_venue_routes,
    venue_fault_answer,
    venue_limited,
    venue_of,
)
from gridsup.exchange.loopback.wire import BinanceError, binance_error_for
from gridsup.exchange.loopback.ws import add_ws_routes
from gridsup.exchange.loopback.ws_admin import add_ws_admin_routes
from gridsup.messages.market import Tick

# binance_url_overrides lives in urls.py; it is re-exported here, where callers met it.
__all__ = ["LoopbackServer", "binance_url_overrides", "create_app"]

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Ticks from a live-like source, e.g. ``feeds.paced(SyntheticWalk(...))`` or a paced
# ``ReplayFeed``: the feed paces itself, the server applies each tick on arrival.
PriceFeed = AsyncIterator[Tick]


def _error_response(error: BinanceError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """BinanceError and the paper engine's errors become Binance error answers."""
    try:
        return await handler(request)
    except BinanceError as exc:
        return _error_response(exc)
    except ExchangeError as exc:
        return _error_response(binance_error_for(exc))


async def _lose_response(
    request: web.Request, handler: Handler, fault: ResponseLost
) -> web.StreamResponse:
    response = await handler(request)
    placed = request.get(PLACED_ORDER)
    if placed is not None:
        request.app[STATE].mark_response_lost(placed)
    if fault.hang > 0:
        await asyncio.sleep(fault.hang)
        return response
    # Drop the connection with the answer unsent: the client sees a disconnect.
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the first pending fault that matches this /api request."""
    if not request.path.startswith(FAULT_PREFIXES):
        return await handler(request)
    state = request.app[STATE]
    state.requests[f"{request.method} {request.path}"] += 1
    fault: Fault | None = state.faults.take(request.method, request.path)
    if fault is None:
        return await handler(request)
    log.info("loopback_fault_injected", fault=type(fault).__name__, path=request.path)
    venue_answer = venue_fault_answer(request.path, fault)  # OKX, Bybit, Kraken shapes
    if venue_answer is not None:
        return venue_answer
    match fault:
        case RateLimit(retry_after=seconds):
            error = BinanceError(429, -1003, "Too many requests; current limit is exceeded.")
            return _error_response(error, {"Retry-After": str(seconds)})
        case Banned(retry_after=seconds):
            error = BinanceError(418, -1003, "Way too many requests; IP banned for a while.")
            return _error_response(error, {"Retry-After": str(seconds)})
        case ServerError(status=status):
            return web.Response(status=status, text="Service Unavailable")
        case TimestampError():
            return _error_response(
                BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            )
        case Latency(delay=delay):
            await asyncio.sleep(delay)
            return await handler(request)
        case ResponseLost():
            return await _lose_response(request, handler, fault)
        case Canned(status=status, body=body):
            return web.json_response(body, status=status)
        case _:
            assert_never(fault)


_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"


@web.middleware
async def _limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Charge the request's weight, refuse it past the limit or during a ban (429/418
    with Retry-After), send the used weight on every answer, and log the request.
    Binance's paths only: OKX, Bybit and Kraken count their own way (``venue_limited``)."""
    venue = venue_of(request.path)
    if venue is not None:
        return await venue_limited(request, handler, venue)
    if not request.path.startswith("/api/"):
        return await handler(request)
    limiter = request.app[STATE].limiter
    cost = weight(request.method, request.path, request.query)
    when = limiter.clock()
    status = 0  # 0 in the log: the connection was dropped with no answer
    try:
        refused = limiter.admit(cost)
        if refused is not None:
            code, seconds = refused
            if code == 429:
                msg = (
                    f"Too much request weight used; current limit is {limiter.limit} "
                    "request weight per 1 MINUTE. Please use WebSocket Streams for live "
                    "updates to avoid polling the API."
                )
            else:
                msg = (
                    f"Way too much request weight used; IP banned until "
                    f"{limiter.banned_until}. Please use WebSocket Streams for live updates "
                    "to avoid bans."
                )
            headers = {"Retry-After": retry_after_text(seconds), _WEIGHT_HEADER: str(limiter.used)}
            response: web.StreamResponse = _error_response(BinanceError(code, -1003, msg), headers)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # e.g. 404 no such route: logged, weighed
                status = exc.status
                exc.headers[_WEIGHT_HEADER] = str(limiter.used)
                raise
            response.headers[_WEIGHT_HEADER] = str(limiter.used)
        status = response.status
        return response
    finally:
        retry_at = limiter.retry_at() if status in (429, 418) else 0
        limiter.record(request.method, request.path, status, cost, when, retry_at_ms=retry_at)


def create_app(state: LoopbackState, passphrases: dict[str, str] | None = None) -> web.Application:
    """The aiohttp application serving ``state`` (``passphrases``: API key -> the OKX
    passphrase its private routes accept)."""
    app = web.Application(middlewares=[_limits, _faults, _errors])
    app[STATE] = state
    add_public_api_routes(app)
    add_api_routes(app)
    add_venue_routes(app, passphrases)
    add_admin_routes(app)
    add_ws_routes(app, state)
    add_ws_admin_routes(app)
    return app


class LoopbackServer:
    """Serves a ``LoopbackState`` over real HTTP on a loopback address.

    ``feed`` (optional) is consumed while the server runs: each tick sets its symbol's
    price, stamped with the server's clock (as a live market would), so that orders,
    trades and klines share one time line.

    Raises:
        ValueError: ``host`` is not a loopback address.
    """

    def __init__(
        self,
        state: LoopbackState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        feed: PriceFeed | None = None,
        passphrases: dict[str, str] | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the loopback exchange binds to a loopback address only, not {host}")
        self.state = state
        self._host = host
        self._port = port
        self._feed = feed
        self._passphrases = passphrases
        self._runner: web.AppRunner | None = None
        self._feed_task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def url_overrides(self) -> dict[str, str]:
        return binance_url_overrides(self.url)

    async def start(self) -> None:
        """Bind and serve (``port`` then holds the bound port)."""
        self._runner = web.AppRunner(create_app(self.state, self._passphrases), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        if self._feed is not None:
            self._feed_task = asyncio.create_task(self._run_feed(self._feed))
        log.info("loopback_exchange_started", url=self.url)

    async def _run_feed(self, feed: PriceFeed) -> None:
        ticks = 0
        async for tick in feed:
            self.state.set_price(tick.symbol, tick.last)
            ticks += 1
        log.info("loopback_feed_ended", ticks=ticks)

    async def stop(self) -> None:
        """Stop the feed and the server."""
        if self._feed_task is not None:
            self._feed_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._feed_task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LoopbackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
