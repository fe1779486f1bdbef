"""Dry-run catch-up: the market the paper account missed while the execution actor was
down is replayed through it before it acts on new ticks (DESIGN.md, "Modes": dry_run).

After a restart restores the paper account, the time between the account's last
timestamp and the first tick of a symbol is a gap. Where the market source has candles
for it (a replay file, or the exchange's public OHLCV), every candle that lies wholly
inside the gap goes through :meth:`PaperExchange.on_candle` (its intra-candle path), so
orders the market crossed meanwhile are filled as they would have been live. A candle
that began before the account's last timestamp, or ends after the new tick, is left out:
its extremes may lie outside the gap, and a fill from them would be invented. The
synthetic walk has no history: the new tick alone is fed (it crosses what it crosses).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from gridsup.actors.run_config import RunConfig
from gridsup.exchange.types import Candle
from gridsup.messages.market import Tick

if TYPE_CHECKING:
    import pandas as pd

log = structlog.get_logger("gridsup.actors.execution")

# The exchange's candles for a gap: timeframe, page size, and the most pages asked for
# (100 pages of 1000 one-minute candles: about ten weeks down).
EXCHANGE_TIMEFRAME = "1m"
EXCHANGE_TIMEFRAME_MS = 60_000
EXCHANGE_PAGE = 1000
EXCHANGE_MAX_PAGES = 100


class GapUnreplayable(Exception):
    """The source holds no evidence for the gap (the message says why)."""


class CandleHistory(Protocol):
    """Where the candles of a gap come from."""

    name: str

    async def gap(self, symbol: str, after: int, until: int) -> list[Candle]:
        """The candles that lie wholly inside (``after``, ``until``), oldest first.

        Raises:
            GapUnreplayable: the source cannot say what the market did.
        """
        ...

    async def close(self) -> None: ...


def inside(candles: list[Candle], after: int, until: int, timeframe_ms: int) -> list[Candle]:
    """The candles that opened after ``after`` and closed by ``until``."""
    return [c for c in candles if c.timestamp > after and c.timestamp + timeframe_ms <= until]


def frame_candles(df: pd.DataFrame) -> tuple[list[Candle], int]:
    """A ``load_candles`` frame as candles with exact decimals, and its timeframe (the
    smallest step between candles, as :class:`ReplayFeed` takes it)."""
    from gridsup.exchange.candles import decimal_price

    stamps = [int(t) for t in df["timestamp"].to_numpy()]
    steps = [b - a for a, b in pairwise(stamps) if b > a]
    timeframe = min(steps) if steps else 60_000
    columns = [df[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
    candles = [
        Candle(ts, *(decimal_price(col[i]) for col in columns)) for i, ts in enumerate(stamps)
    ]
    return candles, timeframe


class ReplayHistory:
    """The run's replay file(s): the same candles the market-data actor replays."""

    name = "replay"

    def __init__(self, template: str) -> None:
        self.template = template

    async def gap(self, symbol: str, after: int, until: int) -> list[Candle]:
        from gridsup.exchange.candles import load_candles, replay_path

        path = replay_path(self.template, symbol)
        try:
            df = await asyncio.to_thread(load_candles, path)
        except (OSError, ValueError) as exc:  # CandleFileError is a ValueError
            raise GapUnreplayable(f"replay file {path}: {exc}") from exc
        candles, timeframe = frame_candles(df)
        return inside(candles, after, until, timeframe)

    async def close(self) -> None:
        return None


class ExchangeHistory:
    """The exchange's public OHLCV (no keys), one-minute candles, paged."""

    name = "exchange"

    def __init__(self, run: RunConfig) -> None:
        from gridsup.exchange.ccxt.exchange import CcxtExchange  # only this source needs ccxt

        self.exchange = CcxtExchange(
            run.exchange_id, sandbox=run.sandbox, url_overrides=run.url_overrides
        )

    async def gap(self, symbol: str, after: int, until: int) -> list[Candle]:
        from gridsup.exchange.errors import ExchangeError

        out: list[Candle] = []
        since = after + 1
        try:
            for _ in range(EXCHANGE_MAX_PAGES):
                page = await self.exchange.fetch_ohlcv(
                    symbol, EXCHANGE_TIMEFRAME, since=since, limit=EXCHANGE_PAGE
                )
                page = [c for c in page if c.timestamp >= since]
                out += inside(page, after, until, EXCHANGE_TIMEFRAME_MS)
                if not page or page[-1].timestamp + EXCHANGE_TIMEFRAME_MS > until:
                    return out
                since = page[-1].timestamp + 1
        except ExchangeError as exc:
            raise GapUnreplayable(f"fetch_ohlcv failed: {exc}") from exc
        log.warning("market_gap_truncated", symbol=symbol, candles=len(out))
        return out

    async def close(self) -> None:
        await self.exchange.close()


def history_of(run: RunConfig) -> CandleHistory | None:
    """The candle history of the run's market source; None for the synthetic walk."""
    if run.market_source == "replay" and run.market_file:
        return ReplayHistory(run.market_file)
    if run.market_source == "exchange" and run.exchange_id != "paper":
        return ExchangeHistory(run)
    return None


# How long a placement or cancel waits for the catch-up of its symbol's gap before it
# goes ahead without it (s): only while no tick of the symbol has come at all.
WAIT_S = 5.0
# Ticks of a symbol kept while its gap is being fetched (older ones: latest value wins).
QUEUE = 1000


class GapFiller:
    """The catch-up of one restarted execution actor (see the module docstring).

    ``replay(symbol, candles)`` walks candles through the paper account and books the
    fills (returns their count); ``feed(tick)`` acts on a tick as usual; ``spawn`` runs
    a background task of the actor.
    """

    def __init__(
        self,
        run: RunConfig,
        last_ts: int,
        replay: Callable[[str, list[Candle]], int],
        feed: Callable[[Tick], None],
        spawn: Callable[[Coroutine[Any, Any, None]], object],
    ) -> None:
        self.run = run
        self.after = last_ts
        self._replay, self._feed, self._spawn = replay, feed, spawn
        symbols = {g.symbol for g in run.grids}  # the paper account has no others
        self.history = history_of(run) if last_ts > 0 else None
        self.pending: dict[str, asyncio.Event] = {}
        self.unreplayable: set[str] = set()  # no history: logged at the first tick
        if last_ts > 0:
            if self.history is None:
                self.unreplayable = symbols
            else:
                self.pending = {s: asyncio.Event() for s in symbols}
        self._fetching: dict[str, deque[Tick]] = {}  # gap being fetched: ticks meanwhile

    def on_tick(self, tick: Tick) -> None:
        """Feed ``tick``, after the gap of its symbol is filled."""
        symbol = tick.symbol
        if symbol in self._fetching:
            self._fetching[symbol].append(tick)
            return
        if symbol in self.pending:
            self._fetching[symbol] = deque(maxlen=QUEUE)
            self._spawn(self._catch_up(tick))
            return
        if symbol in self.unreplayable:
            self.unreplayable.discard(symbol)
            if tick.timestamp > self.after:
                # The new price is the only evidence, and it crosses what it crosses;
                # nothing is invented for the path in between.
                log.warning(
                    "market_gap_unreplayable",
                    symbol=symbol,
                    gap_ms=tick.timestamp - self.after,
                    reason=f"market source {self.run.market_source!r} has no history",
                )
        self._feed(tick)

    async def _catch_up(self, first: Tick) -> None:
        assert self.history is not None
        symbol, after, until = first.symbol, self.after, first.timestamp
        candles: list[Candle] = []
        if until > after:
            try:
                candles = await self.history.gap(symbol, after, until)
            except GapUnreplayable as exc:
                log.warning(
                    "market_gap_unreplayable", symbol=symbol, gap_ms=until - after, reason=str(exc)
                )
        fills = self._replay(symbol, candles) if candles else 0
        if until > after:
            log.info(
                "market_gap_replayed",
                symbol=symbol,
                source=self.history.name,
                gap_ms=until - after,
                candles=len(candles),
                fills=fills,
            )
        self._done(symbol)
        for tick in [first, *self._fetching.pop(symbol, ())]:
            self._feed(tick)

    def _done(self, symbol: str) -> None:
        event = self.pending.pop(symbol, None)
        if event is not None:
            event.set()

    async def wait(self, symbol: str) -> None:
        """Return once the gap of ``symbol`` is filled: an order placed or cancelled
        before the missed candles are replayed could be filled by prices the market
        traded before it existed, or lose a fill it had."""
        event = self.pending.get(symbol)
        if event is None:
            return
        try:
            await asyncio.wait_for(event.wait(), WAIT_S)
        except TimeoutError:
            if symbol in self._fetching:  # its first tick came: the fetch is bounded
                await event.wait()
            elif symbol in self.pending:
                log.warning(
                    "market_gap_unreplayable",
                    symbol=symbol,
                    reason=f"no tick within {WAIT_S}s; orders go ahead",
                )
                self._done(symbol)

    async def close(self) -> None:
        if self.history is not None:
            await self.history.close()
