"""Live prices by the exchange's market stream, REST as its fallback.

One ccxt.pro ``watch_tickers`` subscription carries every symbol of the run over one
connection (Binance allows 1024 streams on one; ccxt asks for them in one SUBSCRIBE).
A follower task keeps the latest ticker of each symbol; each publishing step hands out
those that changed since the last step (latest wins, as the MARKET channel does).

Watchdog: a stream that broke, or carried nothing at all (no ticker, no pong) for
longer than its keepalive plus slack, is reset and subscribed again with backoff;
meanwhile, and until the new subscription delivers, every step fetches the tickers over
REST (``fetch_tickers``: one request for all symbols), so the strategies never wait on a
dead stream. ``status`` shows which (``market_feed``) and since when.
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum
from typing import Protocol

import structlog

from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.streams import MarketStream
from gridsup.exchange.types import Ticker
from gridsup.messages import telemetry
from gridsup.messages.market import Tick

__all__ = ["MarketFeed", "StreamSource"]

log = structlog.get_logger("gridsup.actors.market_data")


class MarketFeed(Enum):
    STREAM = "stream"
    POLLING = "polling"  # the stream is down or stale: REST every step


class RestTickers(Protocol):
    """What the REST fallback needs: all tickers in one request."""

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]: ...

    async def close(self) -> None: ...


class StreamSource:
    """A ``TickSource`` (see ``actor.py``) over a :class:`MarketStream`."""

    def __init__(
        self,
        stream: MarketStream,
        rest: RestTickers,
        symbols: list[str],
        keepalive_ms: int,
    ) -> None:
        self.stream = stream
        self.rest = rest
        self.symbols = symbols
        self.keepalive_ms = keepalive_ms
        self.feed = MarketFeed.POLLING  # until the stream has delivered
        self.since_ms = int(time.time() * 1000)
        self.errors = self.resets = 0
        self._fresh: dict[str, Ticker] = {}
        self._follower: asyncio.Task[None] | None = None

    def _set(self, feed: MarketFeed) -> None:
        if feed is not self.feed:
            log.info("market_feed_changed", feed=feed.value, was=self.feed.value)
            self.feed = feed
            self.since_ms = int(time.time() * 1000)

    async def _follow(self) -> None:
        failures = 0
        limit_ms = self.keepalive_ms + max(500, self.keepalive_ms // 2)
        wait_s = max(0.05, self.keepalive_ms / 2000)
        while True:
            try:
                tickers = await asyncio.wait_for(self.stream.next_tickers(), wait_s)
            except TimeoutError:
                if self.stream.silent_for_ms() > limit_ms:
                    self.resets += 1
                    log.warning("market_stream_silent", silent_ms=self.stream.silent_for_ms())
                    self._set(MarketFeed.POLLING)
                    await self.stream.reset("silent past its keepalive")
                continue
            except ExchangeError as exc:
                failures += 1
                self.resets += 1
                log.warning("market_stream_lost", error=str(exc), failures=failures)
                self._set(MarketFeed.POLLING)
                await asyncio.sleep(min(0.25 * 2**failures, 30.0))
                continue
            failures = 0
            self._set(MarketFeed.STREAM)
            for ticker in tickers:
                self._fresh[ticker.symbol] = ticker

    async def step(self) -> list[Tick]:
        if self._follower is None:
            self._follower = asyncio.ensure_future(self._follow())
        if self.feed is MarketFeed.STREAM:
            fresh, self._fresh = self._fresh, {}
            return [_tick(t) for t in fresh.values()]
        try:
            tickers = await self.rest.fetch_tickers(self.symbols)
        except ExchangeError as exc:
            self.errors += 1
            log.warning("market_fetch_failed", error=str(exc), errors=self.errors)
            return []
        return [_tick(t) for t in tickers.values()]

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            try:
                await self._follower
            except (asyncio.CancelledError, Exception):
                log.debug("market_stream_follower_closed")
        await self.stream.close()
        await self.rest.close()

    def status(self) -> dict[str, str | int | bool]:
        return {
            telemetry.STREAM_CONNECTED: self.feed is MarketFeed.STREAM,
            "market_feed": self.feed.value,
            "market_feed_since": self.since_ms,
            "market_stream_resets": self.resets,
        }


def _tick(t: Ticker) -> Tick:
    return Tick(symbol=t.symbol, timestamp=t.timestamp, last=t.last, bid=t.bid, ask=t.ask)
