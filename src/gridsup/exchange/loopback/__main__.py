"""``python -m gridsup.exchange.loopback --port N``: run the loopback exchange.

The API key and secret it accepts come from the environment variables named by
``--api-key-env``/``--secret-env``. Prices come from ``POST /admin/price``, initial
``--price`` values, and optionally a replayed candle file (``--replay``) or a seeded
random walk (``--walk START --seed N``) for ``--symbol``, paced at ``--speed``. Prints
``listening on http://127.0.0.1:PORT`` once serving (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from gridsup.exchange.loopback.server import LoopbackServer, PriceFeed
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.wire import BinanceError
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


def _feed(args: argparse.Namespace, state: LoopbackState) -> PriceFeed | None:
    """The price feed the options ask for (built now, so bad input stops the start).

    Raises:
        ValueError: an unreadable candle file, a bad walk parameter.
        BinanceError: an unknown symbol.
    """
    # numpy/pandas are imported only when a feed is asked for.
    from gridsup.exchange.feeds import ReplayFeed, SyntheticWalk, paced

    if args.replay is not None:
        from gridsup.exchange.candles import load_candles

        spec = state.spec(args.symbol)
        replay = ReplayFeed(spec.symbol, load_candles(args.replay), speed=args.speed)
        return paced(replay, max_delay_s=5.0)
    if args.walk is not None:
        spec = state.spec(args.symbol)
        walk = SyntheticWalk(
            spec.symbol,
            args.walk,
            seed=args.seed,
            volatility=args.volatility,
            tick_size=spec.tick_size,
            speed=args.speed,
        )
        return paced(walk)
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gridsup.exchange.loopback",
        description="A local spot exchange speaking Binance, OKX, Bybit and Kraken, "
        "backed by the paper engine.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--api-key-env", default="LOOPBACK_API_KEY")
    parser.add_argument("--secret-env", default="LOOPBACK_API_SECRET")
    parser.add_argument(
        "--passphrase-env", default=None, help="variable holding the OKX passphrase to accept"
    )
    parser.add_argument("--balance", action="append", default=None, help="ASSET=AMOUNT, repeatable")
    parser.add_argument("--price", action="append", default=[], help="SYMBOL=PRICE, repeatable")
    feed = parser.add_mutually_exclusive_group()
    feed.add_argument("--replay", type=Path, help="candle file (CSV, CSV.gz, Parquet) to replay")
    feed.add_argument("--walk", type=Decimal, help="seeded random walk from this start price")
    parser.add_argument("--symbol", default="BTC/USDT", help="the symbol --replay/--walk moves")
    parser.add_argument("--seed", type=int, default=1, help="--walk seed")
    parser.add_argument("--volatility", type=float, default=0.001, help="--walk volatility")
    parser.add_argument("--speed", type=float, default=1.0, help="market time per real time")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="the earlier, kinder exchange (fees in quote, crossing orders rest, no request "
        "limits of any venue)",
    )
    parser.add_argument("--bnb-fees", action="store_true", help="pay commissions in BNB")
    return parser


async def _serve(args: argparse.Namespace, state: LoopbackState, feed: PriceFeed | None) -> None:
    passphrases = None
    if args.passphrase_env is not None:
        passphrases = {key: os.environ.get(args.passphrase_env, "") for key in state.keys}
    server = LoopbackServer(
        state, host=args.host, port=args.port, feed=feed, passphrases=passphrases
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
        state = LoopbackState(balances, {key: secret}, lenient=args.lenient, bnb_fees=args.bnb_fees)
        for symbol, price in _pairs(args.price, "--price").items():
            state.set_price(symbol, price)
        feed = _feed(args, state)
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
