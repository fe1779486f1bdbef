"""``MarketDataActor``: one per exchange; publishes a :class:`Tick` per symbol on MARKET.

Three sources, chosen by ``RunConfig.market_source``:

- ``synthetic``: a :class:`SyntheticWalk` per symbol, seeded by ``run.seed`` and the
  symbol (so two runs with the same seed publish the same prices), starting at
  ``run.start_prices[symbol]`` or the middle of the symbol's first grid;
- ``replay``: a :class:`ReplayFeed` per symbol over ``run.market_file`` (a path, or a
  template with ``{symbol}`` / ``{base}`` / ``{quote}``; ``BTC/USDT`` is written
  ``BTC-USDT`` inside a file name); a finished replay stops publishing that symbol;
- ``exchange``: by the exchange's ticker stream (``run.market_stream``, the default;
  ``stream_source.py``: one connection, a stale-stream watchdog, REST as fallback), or
  ``fetch_tickers`` of every symbol in one public request per step (no keys).

Offline sources take one step per ``tick_interval_ms / speed`` of wall time, and a step
is a quarter of ``candle_ms`` of market time (four path points per candle, like the
replay and the backtest). Staleness (the age of each symbol's last tick) is in the status:
``age:<symbol>`` per symbol, which ``gridsup status`` shows for a grid that does not
listen to ticks (a running grid without stops).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

import structlog

from gridsup.actors.request_budget import market_poll_period
from gridsup.actors.run_config import MARKET, RunConfig, topic
from gridsup.messages.control import StatusValue
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.runtime.actor import Actor, StopReason
from gridsup.runtime.endpoints import RunDir
from gridsup.runtime.sockets import SocketSpec, SocketType

log = structlog.get_logger("gridsup.actors.market_data")

_PATH_POINTS = 4  # ticks per candle, as ReplayFeed walks one
# A symbol whose last tick is older than this many intervals counts as stale.
_STALE_INTERVALS = 3


class MarketSource(enum.Enum):
    SYNTHETIC = "synthetic"
    REPLAY = "replay"
    EXCHANGE = "exchange"


class MarketDataError(ValueError):
    """The run's market-data settings cannot work (unknown source, no file ...)."""


class TickSource(Protocol):
    """One step of prices for every symbol (an empty list: nothing new)."""

    async def step(self) -> list[Tick]: ...

    async def close(self) -> None: ...


def symbol_seed(seed: int, symbol: str) -> int:
    """The walk seed of ``symbol`` in a run seeded ``seed`` (stable across processes,
    unlike ``hash()``)."""
    digest = hashlib.blake2b(f"{seed}:{symbol}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def start_price(run: RunConfig, symbol: str) -> Decimal:
    """``run.start_prices[symbol]``, else the middle of the first grid on ``symbol``.

    Raises:
        MarketDataError: no start price and no grid trades ``symbol``.
    """
    if symbol in run.start_prices:
        return run.start_prices[symbol]
    for spec in run.grids:
        if spec.symbol == symbol:
            lower = Decimal(str(spec.config["lower_price"]))
            upper = Decimal(str(spec.config["upper_price"]))
            return (lower + upper) / 2
    raise MarketDataError(f"no start price for {symbol} and no grid trades it")


def run_symbols(run: RunConfig) -> list[str]:
    """Every symbol of the run's grids, in first-seen order."""
    return list(dict.fromkeys(spec.symbol for spec in run.grids))


class FeedSource:
    """Offline: one tick per symbol per step from seeded walks or replayed candles."""

    def __init__(self, feeds: Sequence[Any]) -> None:
        self.feeds = list(feeds)
        self.finished: set[str] = set()

    async def step(self) -> list[Tick]:
        ticks: list[Tick] = []
        for feed in self.feeds:
            if feed.symbol in self.finished:
                continue
            try:
                ticks.append(next(feed))
            except StopIteration:
                self.finished.add(feed.symbol)
                log.warning("market_replay_finished", symbol=feed.symbol)
        return ticks

    async def close(self) -> None:
        return None


class ExchangeSource:
    """Live prices: every symbol's ticker in one public request per step."""

    def __init__(self, run: RunConfig, symbols: list[str]) -> None:
        from gridsup.exchange.ccxt.exchange import CcxtExchange  # only this source needs ccxt

        self.symbols = symbols
        self.errors = 0
        from gridsup.actors.request_budget import run_budget

        self.exchange = CcxtExchange(
            run.exchange_id,
            sandbox=run.sandbox,
            url_overrides=run.url_overrides,
            budget=run_budget(run),  # the host's one budget, shared with execution
        )

    async def step(self) -> list[Tick]:
        from gridsup.exchange.errors import ExchangeError

        try:
            tickers = await self.exchange.fetch_tickers(self.symbols)
        except ExchangeError as exc:
            # A missed poll only ages the prices; the status shows the staleness.
            self.errors += 1
            log.warning("market_fetch_failed", error=str(exc), errors=self.errors)
            return []
        return [
            Tick(symbol=t.symbol, timestamp=t.timestamp, last=t.last, bid=t.bid, ask=t.ask)
            for t in tickers.values()
        ]

    async def close(self) -> None:
        await self.exchange.close()


def build_source(run: RunConfig, symbols: list[str]) -> TickSource:
    """The tick source the run asks for.

    Raises:
        MarketDataError: unknown source, no replay file, or no start price.
        CandleFileError: a replay file is missing or malformed.
    """
    try:
        source = MarketSource(run.market_source)
    except ValueError:
        known = ", ".join(s.value for s in MarketSource)
        raise MarketDataError(f"market_source {run.market_source!r}: want one of {known}") from None
    step_ms = max(1, run.candle_ms // _PATH_POINTS)
    match source:
        case MarketSource.SYNTHETIC:
            from gridsup.exchange.feeds import SyntheticWalk

            walks = []
            for symbol in symbols:
                market = run.markets.get(symbol)
                tick_size = (market.price_step if market else None) or Decimal("0.01")
                walks.append(
                    SyntheticWalk(
                        symbol,
                        start_price(run, symbol),
                        symbol_seed(run.seed, symbol),
                        volatility=run.volatility,
                        step_ms=step_ms,
                        tick_size=tick_size,
                    )
                )
            return FeedSource(walks)
        case MarketSource.REPLAY:
            if not run.market_file:
                raise MarketDataError("market_source 'replay' needs a market_file")
            from gridsup.exchange.candles import load_candles, replay_path
            from gridsup.exchange.feeds import ReplayFeed

            feeds = [
                ReplayFeed(symbol, load_candles(replay_path(run.market_file, symbol)))
                for symbol in symbols
            ]
            return FeedSource(feeds)
        case MarketSource.EXCHANGE:
            # Ticker streams are verified for Binance only (its loopback serves them).
            if run.market_stream and run.exchange_id == "binance":
                return _stream_source(run, symbols)
            return ExchangeSource(run, symbols)


def _stream_source(run: RunConfig, symbols: list[str]) -> TickSource:
    from gridsup.actors.market_data.stream_source import StreamSource
    from gridsup.exchange.ccxt.exchange import CcxtExchange  # only this source needs ccxt
    from gridsup.exchange.ccxt.streams import CcxtMarketStream

    stream = CcxtMarketStream(
        run.exchange_id,
        symbols,
        sandbox=run.sandbox,
        url_overrides=run.url_overrides,
        keepalive_ms=run.stream_keepalive_ms,
    )
    rest = CcxtExchange(run.exchange_id, sandbox=run.sandbox, url_overrides=run.url_overrides)
    return StreamSource(stream, rest, symbols, run.stream_keepalive_ms)


class MarketDataActor(Actor):
    """Publishes ticks of every symbol of the run; see the module docstring."""

    def __init__(self, run: RunConfig, source: TickSource | None = None) -> None:
        super().__init__()
        self.run_config = run
        self.symbols = run_symbols(run)
        self._source = source
        self._interval = run.tick_interval_ms / 1000
        if run.market_source != MarketSource.EXCHANGE.value:
            self._interval /= run.speed
        else:  # paced within the host's request budget: slower with more symbols
            self._interval = market_poll_period(run, len(self.symbols))
        self._last_tick: dict[str, float] = {}  # symbol -> monotonic time of its last tick
        self._last_price: dict[str, Decimal] = {}
        self.ticks_published = 0
        self.steps = 0

    def sockets(self) -> Sequence[SocketSpec]:
        run_dir = RunDir.attach(self.run_config.run_dir) if self.run_config.run_dir else None
        base = run_dir or self.run_dir
        assert base is not None
        return (
            SocketSpec(MARKET, SocketType.PUB, base.endpoint(MARKET), bind=True, send=MARKET_CODEC),
        )

    async def on_start(self) -> None:
        if self._source is None:
            self._source = build_source(self.run_config, self.symbols)
        log.info(
            "market_data_started",
            source=self.run_config.market_source,
            symbols=len(self.symbols),
            interval_s=self._interval,
        )
        self.spawn(self._publish())

    async def on_stop(self, reason: StopReason) -> None:
        if self._source is not None:
            await self._source.close()

    async def _publish(self) -> None:
        assert self._source is not None
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            ticks = await self._source.step()
            now = time.monotonic()
            for tick in ticks:
                self.send(MARKET, tick, topic=topic(tick.symbol))
                self._last_tick[tick.symbol] = now
                self._last_price[tick.symbol] = tick.last
            self.ticks_published += len(ticks)
            self.steps += 1
            # A fixed schedule: a slow step shortens the next wait instead of drifting.
            next_at = max(next_at + self._interval, loop.time())
            await asyncio.sleep(next_at - loop.time())

    def tick_ages(self) -> dict[str, float | None]:
        """Seconds since each symbol's last tick (None: none yet)."""
        now = time.monotonic()
        return {
            s: (now - self._last_tick[s]) if s in self._last_tick else None for s in self.symbols
        }

    def status(self) -> dict[str, StatusValue]:
        ages = self.tick_ages()
        known = [a for a in ages.values() if a is not None]
        stale_after = max(self._interval * _STALE_INTERVALS, 1.0)
        stale = sum(1 for a in ages.values() if a is None or a > stale_after)
        out: dict[str, StatusValue] = {
            "source": self.run_config.market_source,
            "symbols": len(self.symbols),
            "ticks_published": self.ticks_published,
            "last_tick_age_s": round(max(known), 3) if known else None,
            "stale_symbols": stale,
        }
        if isinstance(self._source, ExchangeSource):
            out["fetch_errors"] = self._source.errors
        if isinstance(self._source, FeedSource):
            out["replay_finished"] = len(self._source.finished)
        source_status = getattr(self._source, "status", None)
        if source_status is not None:  # the stream source: stream or polling, since when
            out.update(source_status())
        for symbol, price in self._last_price.items():
            out[f"price:{symbol}"] = str(price)
        for symbol, age in ages.items():
            out[f"age:{symbol}"] = None if age is None else round(age, 3)
        return out


def build(run: RunConfig, **_: Any) -> MarketDataActor:
    """ChildSpec target ``gridsup.actors.market_data.actor:build``."""
    return MarketDataActor(run)
