"""``python -m gridsup.exchange.loopback --port N``: run the loopback exchange.

The API key and secret it accepts come from the environment variables named by
``--api-key-env``/``--secret-env``. Prices come from ``POST /admin/price``, initial
``--price`` values, and optionally a replayed candle file (``--replay``). Prints
``listening on http://127.0.0.1:PORT`` once serving (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from gridsup.exchange.loopback.server import LoopbackServer, PriceFeed
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.exchange.types import Candle
from gridsup.logging import configure_logging

DEFAULT_BALANCES = ("USDT=100000", "BTC=1", "ETH=10", "SOL=100", "BNB=100")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def _pairs(values: Sequence[str], option: str) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for value in values:
        name, sep, amount = value.partition("=")
        try:
            number = Decimal(amount)
        except InvalidOperation:
            number = Decimal("NaN")
        if not sep or not name or not number.is_finite() or number < 0:
            raise UsageError(f"{option} {value!r}: expected NAME=AMOUNT with AMOUNT >= 0")
        result[name] = number
    return result


def _replay(path: Path, symbol: str) -> Iterator[tuple[str, Candle]]:
    """The file's candles (read and validated now, so that a bad file stops the start)."""
    # pandas is imported only when a file is replayed.
    from gridsup.exchange.candles import decimal_price, load_candles

    frame = load_candles(path)
    candles = [
        Candle(
            int(row.timestamp),
            decimal_price(row.open),
            decimal_price(row.high),
            decimal_price(row.low),
            decimal_price(row.close),
            decimal_price(row.volume),
        )
        for row in frame.itertuples(index=False)
    ]
    return ((symbol, candle) for candle in candles)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gridsup.exchange.loopback",
        description="A local Binance-compatible spot exchange backed by the paper engine.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--api-key-env", default="LOOPBACK_API_KEY")
    parser.add_argument("--secret-env", default="LOOPBACK_API_SECRET")
    parser.add_argument("--balance", action="append", default=None, help="ASSET=AMOUNT, repeatable")
    parser.add_argument("--price", action="append", default=[], help="SYMBOL=PRICE, repeatable")
    parser.add_argument("--replay", type=Path, help="candle file (CSV, CSV.gz, Parquet) to replay")
    parser.add_argument("--replay-symbol", default="BTC/USDT")
    parser.add_argument("--feed-interval", type=float, default=1.0, help="seconds per candle")
    return parser


async def _serve(args: argparse.Namespace, state: LoopbackState, feed: PriceFeed | None) -> None:
    server = LoopbackServer(
        state, host=args.host, port=args.port, feed=feed, feed_interval=args.feed_interval
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        print(f"listening on {server.url}", flush=True)
        await stop.wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()  # to stderr: stdout carries the "listening on" line
    try:
        key, secret = os.environ.get(args.api_key_env), os.environ.get(args.secret_env)
        if not key or not secret:
            raise UsageError(
                f"set the API key and secret in ${args.api_key_env} and ${args.secret_env}"
            )
        balances = _pairs(args.balance or DEFAULT_BALANCES, "--balance")
        state = LoopbackState(balances, {key: secret})
        for symbol, price in _pairs(args.price, "--price").items():
            state.set_price(symbol, price)
        feed = None
        if args.replay is not None:
            state.spec(args.replay_symbol)
            feed = _replay(args.replay, args.replay_symbol)
        asyncio.run(_serve(args, state, feed))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, BinanceError) as exc:
        # a non-loopback --host, an unreadable candle file, an unknown symbol
        print(f"error: {exc.msg if isinstance(exc, BinanceError) else exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
