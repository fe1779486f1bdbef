"""``gridsup data fetch SYMBOL TIMEFRAME --since DATE``: fill the OHLCV cache through
ccxt, asking the exchange only for what the cache lacks, with a progress bar.

Exit codes: 0 done, 1 the exchange failed (what arrived before is kept), 2 bad input.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gridsup.commands.db import EXIT_CONFIG, EXIT_UNAVAILABLE, fail
from gridsup.commands.output import short

if TYPE_CHECKING:
    from gridsup.exchange.base import Exchange


def parse_date(value: str, option: str) -> int:
    """``2025-01-01`` or an ISO datetime (UTC unless it says otherwise) as epoch ms.

    Raises:
        click.BadParameter: not a date.
    """
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{short(value)} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM", param_hint=option
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def build_exchange(exchange_id: str, exchange_url: str | None, factory: str | None) -> Exchange:
    """The exchange to fetch from: ccxt's, pointed at ``exchange_url`` when given (the
    loopback exchange in tests), or whatever ``factory`` ("module:callable") builds."""
    if factory:
        module_name, _, attr = factory.partition(":")
        built: Exchange = getattr(importlib.import_module(module_name), attr)(
            exchange_id, exchange_url
        )
        return built
    from gridsup.exchange.ccxt.exchange import CcxtExchange

    overrides = None
    if exchange_url:
        from gridsup.exchange.loopback import binance_url_overrides

        overrides = binance_url_overrides(exchange_url)
    return CcxtExchange(exchange_id, url_overrides=overrides)


@click.group("data")
def data() -> None:
    """Market data: the OHLCV cache."""


@data.command("fetch")
@click.argument("symbol")
@click.argument("timeframe")
@click.option("--since", required=True, help="First candle, YYYY-MM-DD or ISO time (UTC).")
@click.option("--until", default=None, help="End (exclusive); default: the last closed candle.")
@click.option("--exchange", "exchange_id", default="binance", show_default=True)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Cache root (default: <data dir>/ohlcv).",
)
@click.option("--exchange-url", default=None, hidden=True)
@click.option("--exchange-factory", default=None, hidden=True)
def fetch(
    symbol: str,
    timeframe: str,
    since: str,
    until: str | None,
    exchange_id: str,
    cache_dir: Path | None,
    exchange_url: str | None,
    exchange_factory: str | None,
) -> None:
    """Download SYMBOL's TIMEFRAME candles into the cache (only the missing ones)."""
    from gridsup.logging import configure_logging
    from gridsup.store.database import data_dir
    from gridsup.store.ohlcv import timeframe_ms
    from gridsup.strategy.base import SYMBOL_PATTERN

    configure_logging("WARNING")
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise click.BadParameter(
            f"{short(symbol)}: expected BASE/QUOTE in capitals, e.g. BTC/USDT", param_hint="SYMBOL"
        )
    try:
        step = timeframe_ms(timeframe)
    except ValueError:
        step = 0
    if not 0 < step <= 31 * 86_400_000:
        raise click.BadParameter(
            f"{short(timeframe)} is not a fixed-length timeframe of at most a month: want a "
            "number and one of s, m, h, d, w, e.g. 1m, 4h, 1d",
            param_hint="TIMEFRAME",
        ) from None
    start = parse_date(since, "--since")
    end = parse_date(until, "--until") if until else None
    if end is not None and end <= start:
        raise click.BadParameter("must be after --since", param_hint="--until")
    root = cache_dir if cache_dir is not None else data_dir() / "ohlcv"
    from gridsup.exchange.errors import ExchangeError

    try:
        exchange = build_exchange(exchange_id, exchange_url, exchange_factory)
    except ExchangeError as exc:  # e.g. not a ccxt exchange id
        raise click.BadParameter(str(exc), param_hint="--exchange") from None
    try:
        frame, path = asyncio.run(_fetch(exchange, root, symbol, timeframe, start, end))
    except Exception as exc:
        _exit_for(exc)
    first = "-" if frame.empty else _iso(int(frame["timestamp"].iloc[0]))
    last = "-" if frame.empty else _iso(int(frame["timestamp"].iloc[-1]))
    click.echo(f"{symbol} {timeframe}: {len(frame)} candles from {first} to {last} in {path}")


async def _fetch(
    exchange: Exchange, root: Path, symbol: str, timeframe: str, start: int, end: int | None
) -> tuple[Any, Path]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from gridsup.store.ohlcv import OHLCVCache, OHLCVFetcher

    cache = OHLCVCache(root)
    fetcher = OHLCVFetcher(exchange, cache)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task(f"{symbol} {timeframe}", total=None)

        def report(done: int, expected: int) -> None:
            progress.update(task, completed=done, total=expected)

        try:
            await exchange.connect()
            frame = await fetcher.fetch(symbol, timeframe, start, end, progress=report)
        finally:
            await exchange.close()
    return frame, cache.path_for(fetcher.key(symbol, timeframe))


def _exit_for(exc: Exception) -> NoReturn:
    """One line and an exit code per failure class; anything unknown propagates."""
    from gridsup.exchange.errors import BadSymbol, ExchangeError, ExchangeUnavailable

    if isinstance(exc, BadSymbol):
        fail(f"unknown market: {exc}", EXIT_CONFIG)
    if isinstance(exc, ExchangeUnavailable):
        fail(
            f"cannot reach the exchange: the network (or the exchange) is down: {exc} "
            "(candles fetched before are kept; run the same command again to resume)",
            EXIT_UNAVAILABLE,
        )
    if isinstance(exc, ExchangeError):
        fail(f"exchange failed: {exc} (candles fetched before are kept)", EXIT_UNAVAILABLE)
    if isinstance(exc, OSError):
        fail(f"cannot write the cache: {exc}", EXIT_UNAVAILABLE)
    raise exc


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
