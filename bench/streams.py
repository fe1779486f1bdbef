"""Fills by websocket against the loopback exchange: latency, REST weight, gap recovery.

    .venv/bin/python bench/streams.py [--grids 100] [--moves 5] [--keepalive-ms 1000]

The loopback exchange runs as a subprocess (real HTTP and websockets on 127.0.0.1); this
script holds the account through the real ccxt clients (``CcxtExchange`` for REST,
``CcxtUserStream`` — ccxt.pro, the WebSocket API user-data subscription — for events).
``--grids`` buy orders (one per grid) rest below the price; each move takes the price
through all of them at once, so the loopback matches ``--grids`` fills in one go.

Printed:
- fill latency: the loopback's match timestamp (the trade's ``T``, the server's clock)
  -> the event parsed in this process, p50/p99/max over every fill of every move; and,
  as the same run's baseline, REST polling at 1 s (gridsup's ``poll_interval_ms``
  default) — the trade's timestamp -> the poll (``fetch_my_trades``) that found it;
  NOTE: this is the exchange -> execution-actor leg. The strategy receives the fill one
  database commit and one ZeroMQ hop later (docs/actors.md: ~5 ms for a fill batch).
- REST weight per minute in steady state, counted from the loopback's request log with
  Binance's weights (openOrders without a symbol 80, myTrades 20, order 4, ticker/24hr
  for a few symbols 2): the stream follower's audit (one reconcile per
  ``stream_audit_s``, 60 s) against polling every second, as % of Binance's 6000/min;
- a dropped stream: disconnect -> ``StreamBroken`` seen -> REST reconcile done (ms);
  a silent stream (no events, no pongs): silence -> detected (``silent_for_ms`` past
  keepalive + slack, checked as the follower does) -> reconciled (ms).
No figure is asserted; targets (issue 15): p50 <= 20 ms, p99 <= 100 ms; weight <= 5 %;
dropped stream reconciled within 5 s, silent within keepalive + 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from typing import Any

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.ccxt.streams import CcxtUserStream
from gridsup.exchange.loopback.server import binance_url_overrides
from gridsup.exchange.streams import StreamBroken
from gridsup.messages.common import OrderType, Side

KEY, SECRET = "benchkey", "benchsecret"
WEIGHTS = {
    "GET /api/v3/openOrders": 80,
    "GET /api/v3/myTrades": 20,
    "GET /api/v3/order": 4,
    "POST /api/v3/order": 1,
    "GET /api/v3/ticker/24hr": 2,
}
LIMIT_PER_MIN = 6000
LOOPBACK_ARGS = ("--price", "BTC/USDT=42000", "--balance", "USDT=100000000", "--balance", "BTC=10")
AUDIT_S = 60.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Loopback:
    def __init__(self) -> None:
        env = {**os.environ, "LOOPBACK_API_KEY": KEY, "LOOPBACK_API_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridsup.exchange.loopback", "--port", "0", *LOOPBACK_ARGS],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().split()[-1]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def place_ladder(ex: CcxtExchange, grids: int, top: Decimal, tag: str) -> None:
    for i in range(grids):
        price = top - Decimal("0.01") * i
        await ex.create_order(
            "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), price, f"b{tag}x{i}"
        )


async def stream_latency(
    lb: Loopback, ex: CcxtExchange, grids: int, moves: int, keepalive_ms: int
) -> list[float]:
    stream = CcxtUserStream(
        "binance",
        api_key=KEY,
        secret=SECRET,
        url_overrides=binance_url_overrides(lb.url),
        keepalive_ms=keepalive_ms,
    )
    await stream.connect()
    latencies: list[float] = []
    price = Decimal(42000)
    try:
        for move in range(moves):
            await place_ladder(ex, grids, price - 10, f"s{move}")
            # drain the placements' NEW events
            while True:
                try:
                    await asyncio.wait_for(stream.next_events(), 0.5)
                except TimeoutError:
                    break
            price -= 100
            await asyncio.to_thread(
                lb.admin, "POST", "/admin/price", {"symbol": "BTC/USDT", "price": str(price)}
            )
            seen = 0
            while seen < grids:
                events = await asyncio.wait_for(stream.next_events(), 30)
                got = now_ms()
                for e in events:
                    if e.trade is not None:
                        latencies.append(got - e.trade.timestamp)
                        seen += 1
    finally:
        await stream.close()
    return latencies


async def polling_latency(lb: Loopback, ex: CcxtExchange, grids: int, moves: int) -> list[float]:
    latencies: list[float] = []
    price = Decimal(41000)
    for move in range(moves):
        await place_ladder(ex, grids, price - 10, f"p{move}")
        since = now_ms()
        price -= 100
        await asyncio.to_thread(
            lb.admin, "POST", "/admin/price", {"symbol": "BTC/USDT", "price": str(price)}
        )
        found: set[str] = set()
        while len(found) < grids:
            await asyncio.sleep(1.0)  # poll_interval_ms = 1000
            await ex.fetch_open_orders(None)
            trades = await ex.fetch_my_trades("BTC/USDT", since=since, limit=1000)
            got = now_ms()
            for t in trades:
                if t.id not in found:
                    found.add(t.id)
                    latencies.append(got - t.timestamp)
    return latencies


def weight(counts: dict[str, int]) -> int:
    return sum(WEIGHTS.get(k, 1) * v for k, v in counts.items())


async def reconcile(ex: CcxtExchange, since: int) -> None:
    await ex.fetch_open_orders(None)
    await ex.fetch_my_trades("BTC/USDT", since=since, limit=1000)


async def gap_recovery(lb: Loopback, ex: CcxtExchange, keepalive_ms: int) -> dict[str, float]:
    urls = binance_url_overrides(lb.url)
    out: dict[str, float] = {}
    for kind in ("disconnect", "silence"):
        stream = CcxtUserStream(
            "binance", api_key=KEY, secret=SECRET, url_overrides=urls, keepalive_ms=keepalive_ms
        )
        await stream.connect()
        limit = keepalive_ms + max(500, keepalive_ms // 2)
        fault = {"kind": kind} if kind == "disconnect" else {"kind": "silence", "seconds": -1}
        t0 = time.monotonic()
        since = now_ms()
        await asyncio.to_thread(lb.admin, "POST", "/admin/ws-faults", fault)
        while True:
            try:
                await asyncio.wait_for(stream.next_events(), max(0.05, keepalive_ms / 2000))
            except TimeoutError:
                if stream.silent_for_ms() > limit:
                    await stream.reset("silent")
                    break
            except StreamBroken:
                break
        await reconcile(ex, since)
        out[kind] = (time.monotonic() - t0) * 1000
        await asyncio.to_thread(lb.admin, "DELETE", "/admin/ws-faults")
        await stream.close()
    return out


async def main(args: argparse.Namespace) -> None:
    lb = Loopback()
    urls = binance_url_overrides(lb.url)
    ex = CcxtExchange("binance", api_key=KEY, secret=SECRET, url_overrides=urls, rate_limit_ms=1)
    await ex.connect()
    try:
        streamed = await stream_latency(lb, ex, args.grids, args.moves, args.keepalive_ms)
        polled = await polling_latency(lb, ex, args.grids, max(1, args.moves // 2))
        before = lb.admin("GET", "/admin/requests")
        t0 = time.monotonic()
        for _ in range(10):  # ten seconds of polling once a second
            await reconcile(ex, now_ms())
            await asyncio.sleep(1.0)
        window = time.monotonic() - t0
        after = lb.admin("GET", "/admin/requests")
        polled_counts = {k: v - before.get(k, 0) for k, v in after.items()}
        polling_per_min = weight(polled_counts) * 60 / window
        # On the stream: one audit reconcile (openOrders + nothing moved) per AUDIT_S.
        stream_per_min = WEIGHTS["GET /api/v3/openOrders"] * 60 / AUDIT_S
        gaps = await gap_recovery(lb, ex, args.keepalive_ms)
    finally:
        await ex.close()
        lb.close()

    def line(name: str, xs: list[float]) -> str:
        return (
            f"{name:<22} n={len(xs):>5}  p50={statistics.median(xs):8.1f} ms  "
            f"p99={pct(xs, 0.99):8.1f} ms  max={max(xs):8.1f} ms"
        )

    print(f"grids={args.grids} moves={args.moves} keepalive={args.keepalive_ms} ms")
    print("fill latency, loopback match -> parsed in the execution side:")
    print(line("  websocket stream", streamed))
    print(line("  polling 1 s (base)", polled))
    ratio = statistics.median(polled) / max(1e-9, statistics.median(streamed))
    print(f"  ratio p50 polling/stream: {ratio:.0f}x")
    print("REST weight per minute in steady state (Binance limit 6000):")
    print(
        f"  stream (audit every {AUDIT_S:.0f} s): {stream_per_min:7.0f}  "
        f"= {100 * stream_per_min / LIMIT_PER_MIN:5.2f} %"
    )
    print(
        f"  polling every 1 s (base):  {polling_per_min:7.0f}  "
        f"= {100 * polling_per_min / LIMIT_PER_MIN:5.2f} %"
    )
    print("gap detected and reconciled:")
    print(f"  dropped connection: {gaps['disconnect']:7.0f} ms (target 5000)")
    print(
        f"  silent stream:      {gaps['silence']:7.0f} ms "
        f"(target keepalive {args.keepalive_ms} + 5000)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--keepalive-ms", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
