"""The loopback exchange's websocket side, as the pinned ccxt's ``binance`` pro class
uses it for spot:

* ``/ws-api/v3`` — the WebSocket API. ``userDataStream.subscribe.signature`` (params
  ``apiKey``, ``timestamp``, ``signature`` = HMAC-SHA256 of the sorted, url-encoded
  params) subscribes the connection to the account's user data; events arrive wrapped as
  ``{"subscriptionId": n, "event": {...executionReport...}}``.
* ``/ws`` and ``/ws/<n>`` — market streams: ``{"method": "SUBSCRIBE", "params":
  ["btcusdt@ticker", ...], "id": n}``; ``<symbol>@ticker`` (24hrTicker),
  ``@miniTicker``, ``@trade``, ``!ticker@arr`` / ``!miniTicker@arr``.
* ``/ws/<listenKey>`` — the user data of a REST listenKey (older clients;
  ``listen_keys.py``): the same ``executionReport`` events, unwrapped, and
  ``listenKeyExpired`` when the key expires (nothing after it).

Pings are answered by hand (not aiohttp's autoping), so that a silent stream can stop
answering them too. Faults: :mod:`gridsup.exchange.loopback.ws_faults`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from contextlib import suppress
from typing import Any, assert_never

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from gridsup.exchange.loopback.auth import verify_ws_signed
from gridsup.exchange.loopback.context import compact_json
from gridsup.exchange.loopback.events import MarketEvent, OrderChanged, PriceChanged
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.exchange.loopback.ws_faults import (
    Disconnect,
    Drop,
    Duplicate,
    EventPipeline,
    Expire,
    Outage,
    Reorder,
    Silence,
    StreamKind,
    WsFault,
)
from gridsup.exchange.loopback.ws_wire import (
    execution_report,
    mini_ticker_json,
    public_trade_json,
    ticker_json,
    user_event,
    ws_api_error,
    ws_api_result,
)

__all__ = ["WS_HUB", "WsHub", "add_ws_routes"]

log = structlog.get_logger(__name__)


class _Session:
    """One websocket connection and the writer task that sends its queue in order."""

    def __init__(self, hub: WsHub, kind: StreamKind, ws: web.WebSocketResponse) -> None:
        self.hub = hub
        self.kind = kind
        self.ws = ws
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.subscription: int | None = None  # user data: the subscription id
        self.listen_key: str | None = None  # user data by a live REST listenKey
        self.streams: set[str] = set()  # market: the stream names subscribed
        self.writer = asyncio.create_task(self._write())

    def offer(self, text: str) -> None:
        self.queue.put_nowait(text)

    async def _write(self) -> None:
        while True:
            text = await self.queue.get()
            if self.hub.silent(self.kind):
                continue  # a half-open connection: the event never arrives
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def abort(self) -> None:
        """Drop the connection without a close frame (the client sees it die)."""
        transport = self.ws._req.transport if self.ws._req is not None else None
        if transport is not None:
            transport.abort()


class WsHub:
    """Every websocket session of one loopback exchange, and what is sent to them."""

    def __init__(self, state: LoopbackState) -> None:
        self.state = state
        self.sessions: set[_Session] = set()
        self.pipelines = {StreamKind.USER: EventPipeline(), StreamKind.MARKET: EventPipeline()}
        self._silent_until: dict[StreamKind, float] = {}
        self._down_until: dict[StreamKind, float] = {}
        self._subscription_ids = itertools.count()
        self._trade_ids = itertools.count(1)
        self.sent: dict[str, int] = {"user": 0, "market": 0}  # events fanned out
        self.connections: dict[str, int] = {"user": 0, "market": 0}  # accepted
        self.subscribe_attempts = self.subscribe_refused = 0  # WebSocket API user data
        state.observers.append(self.on_event)
        state.listen_keys.on_ended = self._listen_key_ended

    # -- faults ---------------------------------------------------------------------

    def silent(self, kind: StreamKind) -> bool:
        return self._silent_until.get(kind, 0.0) > time.monotonic()

    def down(self, kind: StreamKind) -> bool:
        return self._down_until.get(kind, 0.0) > time.monotonic()

    def apply(self, fault: WsFault) -> None:
        kinds = [k for k in (StreamKind.USER, StreamKind.MARKET) if fault.stream.covers(k)]
        log.info(
            "loopback_ws_fault_injected", fault=type(fault).__name__, stream=fault.stream.value
        )
        for kind in kinds:
            match fault:
                case Disconnect():
                    self._abort(kind)
                case Outage(seconds=seconds):
                    self._down_until[kind] = _until(seconds)
                    self._abort(kind)
                case Silence(seconds=seconds):
                    self._silent_until[kind] = _until(seconds)
                case Expire():
                    self._expire(kind)
                case Drop(count=count):
                    self.pipelines[kind].drop += count
                case Reorder(count=count):
                    self.pipelines[kind].reorder += count
                case Duplicate(count=count):
                    self.pipelines[kind].duplicate += count
                case _:
                    assert_never(fault)

    def clear(self) -> None:
        """End every fault (a held reorder batch is delivered)."""
        self._silent_until.clear()
        self._down_until.clear()
        for kind, pipeline in self.pipelines.items():
            held, pipeline.held = pipeline.held, []
            pipeline.drop = pipeline.duplicate = pipeline.reorder = 0
            for item in reversed(held):
                self._fan_out(kind, item)

    def _abort(self, kind: StreamKind) -> None:
        for session in [s for s in self.sessions if s.kind is kind]:
            session.abort()

    def _expire(self, kind: StreamKind) -> None:
        if kind is not StreamKind.USER:
            return
        for session in self.sessions:
            if session.kind is StreamKind.USER and session.subscription is not None:
                terminated = {"e": "eventStreamTerminated", "E": self.state.clock()}
                session.offer(compact_json(user_event(session.subscription, terminated)))
                session.subscription = None
        self.state.listen_keys.expire_all()  # -> _listen_key_ended for each

    def _listen_key_ended(self, key: str, expired: bool) -> None:
        """A listenKey expired (its streams get ``listenKeyExpired``, then nothing) or
        was closed (its connections are dropped)."""
        for session in [s for s in self.sessions if s.listen_key == key]:
            session.listen_key = None
            if expired:
                event = {"e": "listenKeyExpired", "E": self.state.clock(), "listenKey": key}
                session.offer(compact_json(event))
            else:
                session.abort()

    # -- events ---------------------------------------------------------------------

    def on_event(self, event: MarketEvent) -> None:
        """A state observer: turn ``event`` into stream payloads, through the faults."""
        match event:
            case OrderChanged(order=order, trade=trade):
                spec = self.state.spec(order.symbol)
                trades = self.state.paper.order_trades(order.id) if order.filled or trade else []
                report = execution_report(order, spec.id, trade, trades, self.state.clock())
                kind = StreamKind.USER
                item: Any = report
            case PriceChanged(symbol=symbol, price=price, timestamp=ts):
                kind = StreamKind.MARKET
                item = (symbol, price, ts, next(self._trade_ids))
            case _:
                assert_never(event)
        for out in self.pipelines[kind].pass_(item):
            self._fan_out(kind, out)

    def _fan_out(self, kind: StreamKind, item: Any) -> None:
        if kind is StreamKind.USER:
            raw: str | None = None
            for session in self.sessions:
                if session.kind is not kind:
                    continue
                if session.subscription is not None:
                    session.offer(compact_json(user_event(session.subscription, item)))
                elif session.listen_key is not None:  # a listenKey stream: unwrapped
                    raw = raw or compact_json(item)
                    session.offer(raw)
                else:
                    continue
                self.sent["user"] += 1
            return
        symbol, price, ts, trade_id = item
        spec = self.state.spec(symbol)
        now = self.state.clock()
        lower = spec.id.lower()
        payloads: dict[str, Any] = {}
        for session in self.sessions:
            if session.kind is not kind:
                continue
            for name in session.streams:
                if name not in payloads:
                    payloads[name] = self._market_payload(
                        name, lower, spec, price, ts, trade_id, now
                    )
                if payloads[name] is not None:
                    session.offer(payloads[name])
                    self.sent["market"] += 1

    def _market_payload(
        self, name: str, lower: str, spec: Any, price: Any, ts: int, trade_id: int, now: int
    ) -> str | None:
        stats = self.state.day_stats(spec.id, price, now)
        match name.split("@", 1):
            case [sym, "trade"] if sym == lower:
                return compact_json(public_trade_json(spec.id, trade_id, price, ts, now))
            case [sym, "ticker"] if sym == lower:
                return compact_json(ticker_json(spec.id, price, stats, spec.tick_size, now))
            case [sym, "miniTicker"] if sym == lower:
                return compact_json(mini_ticker_json(spec.id, price, stats, now))
            case ["!ticker", "arr"]:
                return compact_json([ticker_json(spec.id, price, stats, spec.tick_size, now)])
            case ["!miniTicker", "arr"]:
                return compact_json([mini_ticker_json(spec.id, price, stats, now)])
        return None

    # -- connections ----------------------------------------------------------------

    async def serve(
        self, request: web.Request, kind: StreamKind, listen_key: str | None = None
    ) -> web.StreamResponse:
        if self.down(kind):
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        session = _Session(self, kind, ws)
        session.listen_key = listen_key
        self.sessions.add(session)
        self.connections[kind.value] += 1
        log.info("loopback_ws_connected", stream=kind.value, path=request.path)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    if not self.silent(kind):
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.TEXT:
                    self._on_text(session, msg.data)
                elif msg.type is WSMsgType.CLOSE:
                    break
        finally:
            self.sessions.discard(session)
            session.writer.cancel()
            with suppress(asyncio.CancelledError):
                await session.writer
            log.info("loopback_ws_closed", stream=kind.value)
        return ws

    def _on_text(self, session: _Session, text: str) -> None:
        try:
            message = json.loads(text)
            request_id = message.get("id")
            method = message["method"]
            params = message.get("params")
        except (ValueError, KeyError, AttributeError, TypeError):
            session.offer(compact_json(ws_api_error(None, 400, -1100, "Illegal characters found.")))
            return
        if session.kind is StreamKind.MARKET or session.listen_key is not None:
            session.offer(compact_json(self._market_request(session, request_id, method, params)))
            if method == "SUBSCRIBE" and isinstance(params, list):
                self._ticker_snapshot(session, [str(p) for p in params])
        else:
            session.offer(compact_json(self._api_request(session, request_id, method, params)))

    def _ticker_snapshot(self, session: _Session, names: list[str]) -> None:
        """The current ticker of each ticker stream just subscribed, at once (Binance
        pushes a ticker every second on a live market; the loopback's prices move only
        when told, so a new subscriber would otherwise wait for the next move)."""
        now = self.state.clock()
        for spec in self.state.specs.values():
            last = self.state.paper.last_price(spec.symbol)
            if last is None:
                continue
            lower = spec.id.lower()
            for name in names:
                if name.endswith("Ticker") or name.endswith("ticker"):
                    payload = self._market_payload(name, lower, spec, last, now, 0, now)
                    if payload is not None:
                        session.offer(payload)

    def _market_request(self, session: _Session, request_id: Any, method: str, params: Any) -> Any:
        names = [str(p) for p in params] if isinstance(params, list) else []
        if method == "SUBSCRIBE":
            session.streams.update(names)
        elif method == "UNSUBSCRIBE":
            session.streams.difference_update(names)
        elif method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(session.streams), "id": request_id}
        else:
            return {
                "error": {"code": 2, "msg": "Invalid request: unknown method"},
                "id": request_id,
            }
        return {"result": None, "id": request_id}

    def _api_request(self, session: _Session, request_id: Any, method: str, params: Any) -> Any:
        if method == "userDataStream.subscribe.signature":
            self.subscribe_attempts += 1
            signed = params if isinstance(params, dict) else {}
            try:
                verify_ws_signed(signed, self.state.keys, self.state.clock())
            except BinanceError as exc:
                self.subscribe_refused += 1
                return ws_api_error(request_id, exc.status, exc.code, exc.msg)
            session.subscription = next(self._subscription_ids)
            return ws_api_result(request_id, {"subscriptionId": session.subscription})
        if method == "userDataStream.unsubscribe":
            session.subscription = None
            return ws_api_result(request_id, {})
        if method == "ping":
            return ws_api_result(request_id, {})
        return ws_api_error(request_id, 400, -1100, f"Unknown method '{method}'.")


def _until(seconds: float) -> float:
    return float("inf") if seconds < 0 else time.monotonic() + seconds


WS_HUB: web.AppKey[WsHub] = web.AppKey("loopback_ws_hub", WsHub)


async def _user(request: web.Request) -> web.StreamResponse:
    return await request.app[WS_HUB].serve(request, StreamKind.USER)


async def _market(request: web.Request) -> web.StreamResponse:
    hub = request.app[WS_HUB]
    name = request.match_info.get("stream", "")
    if name and hub.state.listen_keys.live(name):  # /ws/<listenKey>: user data
        return await hub.serve(request, StreamKind.USER, listen_key=name)
    return await hub.serve(request, StreamKind.MARKET)


async def _close_sessions(app: web.Application) -> None:
    """On shutdown, close every connection with 1001 "going away", as a venue's server
    does when it restarts (without it, the server waits for each client to leave)."""
    for session in list(app[WS_HUB].sessions):
        session.writer.cancel()
        await session.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def add_ws_routes(app: web.Application, state: LoopbackState) -> None:
    """Register the websocket endpoints on ``app`` (their admin routes: ws_admin.py)."""
    app[WS_HUB] = WsHub(state)
    app.on_shutdown.append(_close_sessions)
    app.router.add_get("/ws-api/v3", _user)
    app.router.add_get("/ws", _market)
    app.router.add_get("/ws/{stream}", _market)
