"""Fills by websocket against the loopback exchange: latency, REST weight, gap recovery.

    .venv/bin/python bench/streams.py [--grids 100] [--moves 5] [--keepalive-ms 1000]
                                      [--only fleet|parts] [--spread]

The loopback exchange runs as a subprocess (real HTTP and websockets on 127.0.0.1).

**fleet** (the issue's target: loopback match -> the strategy): ``--grids`` live grids
on BTC/USDT through the real ``gridsup start`` preparation, supervisor (in this process),
forkserver and actors — execution on the user-data stream, market data on the ticker
stream, SQLite — half of them holding one buy at 42000, half buys at 42000 and 41000.
Three moves: (1) through every 42000 buy (``--grids`` fills at once), after which each
grid places its counter sell, every one answered 0.3 s late (``response_lost`` with
``hang``: over a real network the order's stream event comes before the REST answer);
(2) 1 s later, through the 41000 buys while those sells are still in flight; (3) once all
is placed, through every sell (1.5 x ``--grids`` fills). A process of its own holds a SUB
on ORDER_UPDATES, as every strategy actor does, and takes each fill update's arrival
against the trade's match time (the loopback's clock: the same wall clock). Printed per
move: p50/p99/max. With ``--spread`` the fleet is moved differently: grid i holds one
buy at 42000 - i, and the price walks down a dollar every ``--spread-step-ms`` (20), so
the fills come one grid at a time, 50 a second, while all ``--grids`` run (a busy
market, rather than every grid filling at the same instant).

**parts** (the legs): ``CcxtExchange`` and a bare ``CcxtUserStream`` in this process.
``--grids`` buy orders rest below the price; each move takes the price through all of
them at once. Printed:
- fill latency: match -> the event parsed in this process (the exchange -> execution
  actor leg), p50/p99/max over every fill of every move; and, as the same run's
  baseline, REST polling at 1 s (gridsup's ``poll_interval_ms`` default) — the trade's
  timestamp -> the poll (``fetch_my_trades``) that found it;
- REST weight per minute in steady state, counted from the loopback's request log with
  Binance's weights (openOrders without a symbol 80, myTrades 20, order 4, ticker/24hr
  for a few symbols 2): the stream follower's audit (one reconcile per
  ``stream_audit_s``, 60 s) against polling every second, as % of Binance's 6000/min;
- a dropped stream: disconnect -> ``StreamBroken`` seen -> REST reconcile done (ms);
  a silent stream (no events, no pongs): silence -> detected (``silent_for_ms`` past
  keepalive + slack, checked as the follower does) -> reconciled (ms).
No figure is asserted; targets (issue 15): p50 <= 20 ms, p99 <= 100 ms with 100 grids;
weight <= 5 %; dropped stream reconciled within 5 s, silent within keepalive + 5 s.
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
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.ccxt.streams import CcxtUserStream
from gridsup.exchange.loopback.server import binance_url_overrides
from gridsup.exchange.streams import StreamBroken
from gridsup.messages.common import OrderType, Side

KEY, SECRET = "benchkey", "benchsecret"
KEY_ENV, SECRET_ENV = "GSBENCH_STREAMS_KEY", "GSBENCH_STREAMS_SECRET"
WEIGHTS = {
    "GET /api/v3/openOrders": 80,
    "GET /api/v3/myTrades": 20,
    "GET /api/v3/order": 4,
    "POST /api/v3/order": 1,
    "GET /api/v3/ticker/24hr": 2,
}
LIMIT_PER_MIN = 6000
ORDER = "/api/v3/order"
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


# -- the whole path, with a fleet running ------------------------------------------------

FLEET_GRID = """
[[grid]]
name = "{kind}{i:03d}"
symbol = "BTC/USDT"
lower_price = {lower}
upper_price = {upper}
num_grids = 3
total_investment = 300
initial_position = "none"
"""
# Half the grids ("a") hold one buy at 42000, the other half ("b") buys at 42000 and
# 41000: 150 open orders (Binance takes at most 200 per symbol, MAX_NUM_ORDERS).
FLEET_KINDS = (("a", 42000, 44000), ("b", 41000, 43000))
FLEET_START = Decimal(42500)


@dataclass(frozen=True, slots=True)
class Move:
    name: str
    price: Decimal
    fills: tuple[int, int]  # fills of each "a" and each "b" grid
    settle_first: bool  # wait until every counter order of the last move is placed


# (the 42000 buys fill; their 100 sells at 43000 are placed after, each answered
# SLOW_ANSWER_S late, as over a real network the order's stream event comes before the
# REST answer) -> (right after: the 41000 buys fill while those sells are still in flight)
# -> (every sell fills: 50 at 42000, 100 at 43000)
FLEET_MOVES = (
    Move("quiet", Decimal(41900), (1, 1), True),
    Move("placements in flight", Decimal(40900), (0, 1), False),
    Move("quiet, larger", Decimal(43100), (1, 2), True),
)
SLOW_ANSWER_S = 0.3
IN_FLIGHT_AFTER_S = 1.0  # the second move, after the first's fills (its placements under way)


# --spread: grid i holds one buy at 42000 - i; the price walks down one grid at a time,
# a step every --spread-step-ms (20: 50 fills a second, a busy market).


def fleet_grids_file(directory: Path, count: int, spread: bool = False) -> Path:
    text = (
        '[exchange]\nid = "binance"\nmode = "live"\n'
        f'api_key_env = "{KEY_ENV}"\napi_secret_env = "{SECRET_ENV}"\n'
        '[market_data]\nsource = "exchange"\n'
    )
    for i in range(count):
        kind, lower, upper = ("a", 42000 - i, 44000 - i) if spread else FLEET_KINDS[i % 2]
        text += FLEET_GRID.format(kind=kind, i=i, lower=lower, upper=upper)
    path = directory / "grids.toml"
    path.write_text(text)
    return path


def listen(endpoint: str, conn: Any) -> None:
    """A process of its own with a SUB on the execution actor's ORDER_UPDATES, as every
    strategy actor has one (this script's process is busy being the supervisor): told
    how many fills a move makes, it sends back their latencies once they all arrived,
    the time each arrived against the trade's match time (the loopback's clock, the same
    wall clock)."""
    import zmq

    from gridsup.messages.orders import ORDER_FEED_CODEC

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    conn.send("ready")
    got: list[float] = []
    expected: list[int] = []
    try:
        while True:
            while conn.poll():
                message = conn.recv()
                if message == "stop":
                    return
                expected.append(int(message))
            if not sock.poll(100):
                continue
            frames = sock.recv_multipart()
            received = time.time_ns() / 1e6
            update = ORDER_FEED_CODEC.decode(frames[-1])
            if update.fill is not None:
                got.append(received - update.fill.timestamp)
            while expected and len(got) >= expected[0]:
                count = expected.pop(0)
                conn.send(got[:count])
                got = got[count:]
    finally:
        sock.close(0)
        ctx.term()


class FillListener:
    """:func:`listen` in a process of its own."""

    def __init__(self, endpoint: str) -> None:
        import multiprocessing

        mp = multiprocessing.get_context("spawn")
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=listen, args=(endpoint, child), daemon=True)
        self.proc.start()
        if not self.conn.poll(60) or self.conn.recv() != "ready":
            raise SystemExit("the fill listener did not start")

    def expect(self, fills: int) -> None:
        self.conn.send(fills)

    async def collect(self, timeout: float) -> list[float]:
        if not await asyncio.to_thread(self.conn.poll, timeout):
            raise SystemExit("the fills did not all reach the strategies")
        latencies: list[float] = self.conn.recv()
        return latencies

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(10)


async def settle(
    sup: Any, names: list[str], fills: tuple[int, int] = (0, 0), timeout: float = 300
) -> None:
    """Until every grid runs with its orders out and nothing pending, each "a" and "b"
    grid having seen ``fills`` fills (the counter order of the last one placed: the next
    move must not meet an order still being placed)."""
    from gridsup.supervisor.states import ChildState

    def settled(name: str, child: Any) -> bool:
        wanted = fills[0] if "-a" in name else fills[1]
        return bool(
            child.state is ChildState.RUNNING
            and child.status.get("requests_pending") == 0
            and (child.status.get("open_orders") or 0) >= 1
            and not child.status.get("orders_waiting")
            and (child.status.get("fills") or 0) >= wanted
        )

    deadline = time.monotonic() + timeout
    while True:
        children = sup.supervision.children if sup.supervision else {}
        if children and all(settled(n, children[n]) for n in names):
            return
        if time.monotonic() > deadline:
            late = [n for n in names if not settled(n, children[n])]
            first = children[late[0]]
            raise SystemExit(
                f"the fleet did not settle: {len(late)} grids, e.g. {late[0]} "
                f"{first.state}: {first.status}"
            )
        await asyncio.sleep(0.2)


async def fleet_latency(
    lb: Loopback, grids: int, spread: bool = False, step_s: float = 0.02
) -> dict[str, Any]:
    """``grids`` live grids (the real supervisor, actors and strategies) on the loopback,
    moved through :data:`FLEET_MOVES`; match -> the fill update received on
    ORDER_UPDATES (where every strategy actor receives it), per move. ``spread``: one
    walk instead, each step (one every ``step_s``) filling one grid's buy."""
    import shutil
    import tempfile

    from gridsup import app
    from gridsup.actors.run_config import ORDER_UPDATES
    from gridsup.commands.foreground import strategy_preload
    from gridsup.commands.prepare import prepare
    from gridsup.runtime.endpoints import RunDir
    from gridsup.supervisor.runner import Supervisor

    work = Path(tempfile.mkdtemp(prefix="gsstream-", dir="/tmp"))
    os.environ["GRIDSUP_DATA_DIR"] = str(work / "data")
    base = work / "run"
    options = app.StartOptions(exchange_url=lb.url, rate_limit_per_s=500.0)
    # prepare() runs its checks with asyncio.run: in a thread of its own.
    grids_file = fleet_grids_file(work, grids, spread)
    _, run, _ = await asyncio.to_thread(prepare, grids_file, options, base)
    # Watched patiently: a shared machine's load must not have an actor killed as hung
    # in the middle of a measurement.
    specs = [
        s.with_policy(heartbeat_liveness=30, ready_timeout=300.0) for s in app.child_specs(run)
    ]
    sup = Supervisor(specs, base=base, preload=strategy_preload(), log_level="WARNING")
    task = asyncio.get_running_loop().create_task(sup.run())
    names = [s.name for s in specs if s.kind == "strategy"]
    out: dict[str, Any] = {"moves": []}
    listener: FillListener | None = None

    async def tick(price: Decimal) -> None:
        # A live market sends a ticker every second; the loopback's price moves only when
        # told, so grids that subscribe after the last move would wait for a price.
        while True:
            await asyncio.to_thread(
                lb.admin, "POST", "/admin/price", {"symbol": "BTC/USDT", "price": str(price)}
            )
            await asyncio.sleep(1.0)

    ticker = asyncio.get_running_loop().create_task(tick(FLEET_START))
    try:
        t0 = time.monotonic()
        await settle(sup, names)
        ticker.cancel()
        out["startup_s"] = time.monotonic() - t0
        listener = FillListener(RunDir(Path(run.run_dir)).endpoint(ORDER_UPDATES))
        await asyncio.sleep(2.0)  # the SUB joins
        seen = (0, 0)  # fills of each "a" and each "b" grid so far
        kinds = (len(names) - len(names) // 2, len(names) // 2)
        if spread:
            listener.expect(len(names))
            for i in range(len(names)):  # through 42000 - i: grid i's buy, alone
                await asyncio.to_thread(
                    lb.admin,
                    "POST",
                    "/admin/price",
                    {"symbol": "BTC/USDT", "price": str(41999.5 - i)},
                )
                await asyncio.sleep(step_s)
            rate = f"one grid at a time, {1 / step_s:.0f}/s"
            out["moves"].append((rate, await listener.collect(120)))
        for move in () if spread else FLEET_MOVES:
            if move.settle_first:
                await settle(sup, names, seen)
                await asyncio.sleep(1.5)  # their heartbeats seen
            else:
                await asyncio.sleep(IN_FLIGHT_AFTER_S)
            listener.expect(move.fills[0] * kinds[0] + move.fills[1] * kinds[1])
            if move is FLEET_MOVES[0]:  # the counter orders of this move answered late
                slow = {"kind": "response_lost", "hang": SLOW_ANSWER_S, "count": len(names)}
                await asyncio.to_thread(
                    lb.admin, "POST", "/admin/faults", {**slow, "method": "POST", "path": ORDER}
                )
            await asyncio.to_thread(
                lb.admin, "POST", "/admin/price", {"symbol": "BTC/USDT", "price": str(move.price)}
            )
            out["moves"].append((move.name, await listener.collect(120)))
            seen = (seen[0] + move.fills[0], seen[1] + move.fills[1])
    finally:
        ticker.cancel()
        if listener is not None:
            listener.close()
        if sup.supervision is not None:
            sup.supervision.stop()
        await task
        shutil.rmtree(work, ignore_errors=True)
    return out


def line(name: str, xs: list[float]) -> str:
    return (
        f"{name:<30} n={len(xs):>5}  p50={statistics.median(xs):8.1f} ms  "
        f"p99={pct(xs, 0.99):8.1f} ms  max={max(xs):8.1f} ms"
    )


async def run_fleet(args: argparse.Namespace) -> None:
    os.environ[KEY_ENV], os.environ[SECRET_ENV] = KEY, SECRET
    lb = Loopback()
    try:
        lb.admin("POST", "/admin/price", {"symbol": "BTC/USDT", "price": str(FLEET_START)})
        fleet = await fleet_latency(lb, args.grids, args.spread, args.spread_step_ms / 1000)
    finally:
        lb.close()
    every = [x for _, move in fleet["moves"] for x in move]
    print(f"fleet: {args.grids} live grids (started in {fleet['startup_s']:.0f} s);")
    print("loopback match -> the fill update on ORDER_UPDATES, by move:")
    for name, move in fleet["moves"]:
        print(line(f"  {name}", move))
    print(line("  all moves", every))
    print("  targets: p50 <= 20 ms, p99 <= 100 ms")


async def run_parts(args: argparse.Namespace) -> None:
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

    print(f"grids={args.grids} moves={args.moves} keepalive={args.keepalive_ms} ms")
    print("fill latency, loopback match -> parsed by a bare ccxt.pro client:")
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


async def main(args: argparse.Namespace) -> None:
    if args.only in (None, "fleet"):
        await run_fleet(args)
    if args.only in (None, "parts"):
        await run_parts(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--keepalive-ms", type=int, default=1000)
    parser.add_argument("--only", choices=["fleet", "parts"], help="one part of the bench")
    parser.add_argument(
        "--spread", action="store_true", help="fleet: fills one grid at a time (a walk)"
    )
    parser.add_argument("--spread-step-ms", type=float, default=20.0, help="--spread: ms a step")
    asyncio.run(main(parser.parse_args()))
