"""ccxt.pro streams behind :mod:`gridsup.exchange.streams`.

User data (Binance spot, as the pinned ccxt does it): ``authenticate`` subscribes the
WebSocket API connection (``userDataStream.subscribe.signature``) and waits for the
confirmation; the account's ``executionReport`` events then follow (``watch_orders``
and ``watch_my_trades`` are kept pending to hold the subscription). A trade is booked
with the order as that same report left it (its ``info``), so a fill never waits for a
second message. Market data:
``watch_tickers`` for every symbol over one connection.

Liveness: ccxt pings the server every ``keepalive_ms``; ``silent_for_ms`` is the time
since the connection last carried anything (an event or a pong), read from ccxt's
websocket client (``last_message_at``/``lastPong``: attributes of ccxt's ``Client``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import ccxt.async_support as ccxt
import structlog

from gridsup.exchange.ccxt import convert
from gridsup.exchange.ccxt.client import RedactFilter, build_client
from gridsup.exchange.ccxt.errors import keys_refused, map_ccxt_error
from gridsup.exchange.errors import AuthenticationError, ExchangeError
from gridsup.exchange.streams import OrderEvent, StreamBroken
from gridsup.exchange.types import Ticker

__all__ = ["CcxtMarketStream", "CcxtUserStream"]

log = structlog.get_logger(__name__)


def _pro_client(
    exchange_id: str,
    api_key: str | None,
    secret: str | None,
    sandbox: bool,
    url_overrides: Mapping[str, str] | None,
    keepalive_ms: int,
) -> Any:
    client = build_client(
        exchange_id,
        api_key=api_key,
        secret=secret,
        sandbox=sandbox,
        url_overrides=url_overrides,
        options=None,
        timeout_ms=10_000,
        enable_rate_limit=True,
        rate_limit_ms=None,
        pro=True,
    )
    client.streaming = {**getattr(client, "streaming", {}), "keepAlive": keepalive_ms}
    return client


def _refusal(exc: BaseException) -> BaseException | None:
    """The keys' refusal behind ``exc``, if any. The pinned ccxt masks a refused
    WebSocket API subscription: its error handler drops the subscription, and the
    subscribe call's own clean-up then fails to drop it again (``KeyError: 'spot'``),
    with the refusal as that error's context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        refused = isinstance(current, ccxt.AuthenticationError | ccxt.PermissionDenied)
        if refused or keys_refused(current):  # -2015 raised as a ban: ccxt/errors.py
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _broken(exc: BaseException, redactor: RedactFilter) -> ExchangeError:
    refused = _refusal(exc)
    if refused is not None:
        return AuthenticationError(redactor.redact(str(refused)))
    error = map_ccxt_error(exc, None) if isinstance(exc, ccxt.BaseError) else None
    detail = redactor.redact(str(error if error is not None else exc))
    return StreamBroken(f"{type(exc).__name__}: {detail}")


class _Pro:
    """What both streams share: the ccxt.pro client, its liveness, reset and close."""

    def __init__(self, client: Any, redactor: RedactFilter) -> None:
        self._client = client
        self._redactor = redactor
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        # The websocket connections (url -> ccxt Client) the stream was confirmed on:
        # ccxt re-dials by itself when a watch is called after a drop, so a connection
        # that changed under us is how a drop between two calls shows.
        self._connections: dict[str, int] = {}

    def _remember_connections(self) -> None:
        self._connections = {url: id(c) for url, c in (self._client.clients or {}).items()}

    def _check_connections(self) -> None:
        clients = getattr(self._client, "clients", None) or {}
        for url, ident in self._connections.items():
            current = clients.get(url)
            if current is None or id(current) != ident or current.error is not None:
                self._connections = {}
                raise StreamBroken(f"the connection to {url} was lost")

    def _ws_clients(self) -> list[Any]:
        return list((getattr(self._client, "clients", None) or {}).values())

    def silent_for_ms(self) -> int:
        heard = [
            max(getattr(c, "last_message_at", None) or 0, getattr(c, "lastPong", None) or 0)
            for c in self._ws_clients()
        ]
        if not heard:
            return 0
        return max(0, int(time.time() * 1000) - max(heard))

    async def reset(self, reason: str) -> None:
        self._connections = {}
        for ws in self._ws_clients():
            pending = list((getattr(ws, "futures", None) or {}).values())
            ws.on_error(ccxt.RequestTimeout(f"gridsup: {reason}"))
            # Futures nobody waits for any more (a refused subscription leaves one
            # behind, see _refusal) are read here: their error is this reset's.
            for future in pending:
                if future.done() and not future.cancelled():
                    future.exception()
        await self._cancel_tasks()

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    async def _next(self, watchers: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """Wait for the first of the ``watchers`` (name -> coroutine factory) to answer;
        the others keep waiting for the next call.

        Raises:
            StreamBroken: a watcher failed, or the connection changed since ``connect``.
        """
        self._check_connections()
        for name, factory in watchers.items():
            if name not in self._tasks:
                self._tasks[name] = asyncio.ensure_future(factory())
        done, _ = await asyncio.wait(self._tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        out: list[tuple[str, Any]] = []
        failure: BaseException | None = None
        for name, task in list(self._tasks.items()):
            if task in done:
                del self._tasks[name]
                exc = task.exception()
                if exc is not None:
                    failure = failure or exc
                else:
                    out.append((name, task.result()))
        if failure is not None:
            await self._cancel_tasks()
            self._connections = {}
            raise _broken(failure, self._redactor)
        # Re-armed at once: a drop before the next call then fails a pending watch.
        for name, factory in watchers.items():
            if name not in self._tasks:
                self._tasks[name] = asyncio.ensure_future(factory())
        return out

    async def close(self) -> None:
        await self._cancel_tasks()
        with suppress(Exception):
            await self._client.close()


class CcxtUserStream(_Pro):
    """The account's order changes over ccxt.pro (see the module docstring).

    ccxt's ``watch_orders``/``watch_my_trades`` answer from caches that coalesce what
    arrived between two calls (the latest state per order; a burst of trades resolves
    one future and waits for the next message to hand out the rest). So the reports are
    taken as they are handled — ccxt's ``handle_order_update`` is replaced, for
    ``executionReport``, by one that queues each raw report, parsed later with ccxt's own
    ``parse_ws_order``/``parse_ws_trade`` — and the two watches are kept pending only to
    keep the subscription and to fail when the connection does (ccxt's caches behind
    them are not fed: nothing reads them).
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: str | None,
        secret: str | None,
        sandbox: bool = False,
        url_overrides: Mapping[str, str] | None = None,
        keepalive_ms: int = 10_000,
    ) -> None:
        redactor = RedactFilter([s for s in (api_key, secret) if s])
        client = _pro_client(exchange_id, api_key, secret, sandbox, url_overrides, keepalive_ms)
        client.logger.addFilter(redactor)
        super().__init__(client, redactor)
        self.id = exchange_id
        self._reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._getter: asyncio.Future[dict[str, Any]] | None = None
        handle = client.handle_order_update

        def handle_order_update(ws: Any, message: Any) -> None:
            if isinstance(message, dict) and message.get("e") == "executionReport":
                # Taken here, and only parsed once, by next_events: ccxt's own handling
                # (its order and trade caches, which gridsup never reads) cost as much
                # again for every event, a hundred of them in a fleet's price move.
                self._reports.put_nowait(message)
                return
            handle(ws, message)

        client.handle_order_update = handle_order_update
        self._terminated = False
        terminated = getattr(client, "handle_event_stream_terminated", None)
        if terminated is not None:
            # The subscription ended (eventStreamTerminated) on a live connection: ccxt
            # rejects only its subscription's future, the watches would wait for ever.
            def handle_terminated(ws: Any, message: Any) -> None:
                self._terminated = True
                self._reports.put_nowait({})  # wakes next_events
                terminated(ws, message)

            client.handle_event_stream_terminated = handle_terminated

    def __repr__(self) -> str:
        return f"CcxtUserStream(id={self.id!r})"

    async def close(self) -> None:
        if self._getter is not None:
            self._getter.cancel()
            self._getter = None
        await super().close()

    async def connect(self) -> None:
        await self._cancel_tasks()
        self._terminated = False
        try:
            if not self._client.markets:
                await self._client.load_markets()
            authenticate = getattr(self._client, "authenticate", None)
            if authenticate is not None:  # Binance: the subscription is confirmed here
                await authenticate({"type": "spot"})
        except Exception as exc:
            raise _broken(exc, self._redactor) from exc
        self._arm()
        await asyncio.sleep(0)
        self._remember_connections()

    def _arm(self) -> None:
        watchers = {"orders": self._client.watch_orders, "trades": self._client.watch_my_trades}
        for name, factory in watchers.items():
            if name not in self._tasks:
                self._tasks[name] = asyncio.ensure_future(factory())

    async def next_events(self) -> list[OrderEvent]:
        self._check_connections()
        self._arm()
        reports: list[dict[str, Any]] = []
        if self._reports.empty() and self._getter is None:
            # Kept across calls: a caller's timeout cancels this call, not the getter,
            # whose report would otherwise be taken and lost.
            self._getter = asyncio.ensure_future(self._reports.get())
        if self._getter is not None:
            waiting = [*self._tasks.values(), self._getter]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if self._getter.done():
                reports.append(self._getter.result())
                self._getter = None
        while not self._reports.empty():
            reports.append(self._reports.get_nowait())
        events = [e for e in map(self._event, reports if not self._terminated else []) if e]
        # Every failed watch's exception is read (none is left "never retrieved").
        failures = [t.exception() for t in self._tasks.values() if t.done()]
        failure = next((f for f in failures if f is not None), None)
        for name, task in list(self._tasks.items()):
            if task.done():
                del self._tasks[name]  # answered: re-armed on the next call
        if failure is not None or self._terminated:
            # Whatever came with the failure is left to the reconcile that follows.
            await self._cancel_tasks()
            self._connections = {}
            if self._terminated:
                self._terminated = False
                raise StreamBroken("the user-data subscription was terminated")
            assert failure is not None
            raise _broken(failure, self._redactor)
        return events

    def _event(self, report: dict[str, Any]) -> OrderEvent | None:
        if not report:
            return None
        try:
            order = convert.to_order(self._client.parse_ws_order(report))
            if report.get("x") != "TRADE":
                return OrderEvent(order=order)
            trade = convert.to_trade(self._client.parse_ws_trade(report), order.client_order_id)
            return OrderEvent(order=order, trade=trade)
        except (ExchangeError, KeyError, TypeError, ValueError) as exc:
            log.warning("stream_event_unreadable", error=str(exc))
            return None


class CcxtMarketStream(_Pro):
    """Tickers of ``symbols`` over ccxt.pro's ``watch_tickers`` (one connection)."""

    def __init__(
        self,
        exchange_id: str,
        symbols: list[str],
        *,
        sandbox: bool = False,
        url_overrides: Mapping[str, str] | None = None,
        keepalive_ms: int = 10_000,
    ) -> None:
        client = _pro_client(exchange_id, None, None, sandbox, url_overrides, keepalive_ms)
        super().__init__(client, RedactFilter([]))
        self.symbols = list(symbols)

    async def next_tickers(self) -> list[Ticker]:
        try:
            if not self._client.markets:
                await self._client.load_markets()
        except Exception as exc:
            raise _broken(exc, self._redactor) from exc
        watchers = {"tickers": lambda: self._client.watch_tickers(self.symbols)}
        tickers: list[Ticker] = []
        answers = await self._next(watchers)
        if not self._connections:
            self._remember_connections()
        for _, answer in answers:
            for raw in answer.values():
                ticker = convert.to_ticker(raw)
                if ticker is not None:
                    tickers.append(ticker)
        return tickers
