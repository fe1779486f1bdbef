"""A thousand paper grids on one host: start-up, memory, file descriptors, idle CPU,
`gridsup status`, and tick-to-order latency with a tenth of the grids moving per tick.

    .venv/bin/python bench/thousand.py [--grids 1000] [--baseline 100] [--groups 10]
                                       [--idle 10] [--moves 10]

Runs ``--grids`` dry-run grids (paper exchange, SQLite) with the real preflight (the
open-files check included), child specs, supervisor, forkserver and actors, then the
same with ``--baseline`` grids: the baseline of the same run, printed beside it. As in
bench/fleet.py the market-data actor is replaced by this script's publisher on the
MARKET channel, so that the prices are under control. The grids are spread over
``--groups`` markets of their own (copies of BTC/USDT's rules, registered in this
process only: the bench's, not the paper exchange's), one grid in ``groups`` per
market, with the same levels as fleet.py (57000..63000, 13 levels). Every market ticks
once a second; a *move* takes one market through its grids' next level (down through
the 59500 buys, then up through the 60000 sells that replaced them, ...), so with the
default ten groups one grid in ten fills an order and places its counter order on each
tick, one market after the other, a tick a second.

Printed for both sizes: start-up (spawn of the first actor -> every grid Ready, and ->
every grid with its orders out; the CPU spent until every grid was Ready, by kind of
process, and the supervisor's time in each spawn); USS summed over all processes and
per strategy actor; open file descriptors per kind of process (the largest) against
``ulimit -n``; idle CPU (``--idle`` seconds, ticks only, % of one core, by kind);
``gridsup status --json`` as a user runs it (a new process, wall time) and the control
round trip alone; per move, tick -> the counter order on the exchange (the
``acknowledged`` event's own timestamp, as fleet.py) p50/p99 over every counter order;
CPU per move (all processes, by kind, minus their idle rate) and per grid that moved.
Targets (issue 18): all Ready <= 20 s, total USS <= 8 GB, idle CPU <= 10 % of one core,
`gridsup status` <= 1 s, tick -> order p99 <= 100 ms with 10 % moving.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from figures import pct
from fleet import cpu_by_kind, spent, uss
from supervised import process_kinds, shut_down, start_supervisor, trading

PRICE, DOWN, UP = Decimal(60000), Decimal(59400), Decimal(60100)
GRID = """
[[grid]]
name = "t{i:04d}"
symbol = "{symbol}"
lower_price = 57000
upper_price = 63000
num_grids = 13
total_investment = 300
initial_position = "none"
"""


def register_markets(groups: int) -> list[str]:
    """``groups`` markets of the bench's own (BTC/USDT's rules), known to this process's
    preflight only; the run carries them to the actors."""
    import msgspec

    from gridsup.exchange import markets

    btc = markets.PAPER_MARKETS["BTC/USDT"]
    symbols = []
    for g in range(groups):
        symbol = f"T{g:02d}/USDT"
        markets.PAPER_MARKETS[symbol] = msgspec.structs.replace(
            btc, symbol=symbol, base=f"T{g:02d}"
        )
        symbols.append(symbol)
    return symbols


def grids_file(directory: Path, count: int, symbols: list[str]) -> Path:
    text = f'[exchange]\nid = "paper"\n[exchange.paper_balances]\nUSDT = {300 * count}\n'
    text += "".join(GRID.format(i=i, symbol=symbols[i % len(symbols)]) for i in range(count))
    path = directory / f"grids-{count}.toml"
    path.write_text(text)
    return path


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Markets:
    """This script's MARKET publisher, for every market of the run."""

    def __init__(self, endpoint: str, symbols: list[str]) -> None:
        import zmq
        import zmq.asyncio

        from gridsup.actors.run_config import topic
        from gridsup.messages.market import MARKET_CODEC

        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.sock.bind(endpoint)
        self.topics = {s: topic(s) for s in symbols}
        self.prices = dict.fromkeys(symbols, PRICE)
        self.codec = MARKET_CODEC

    async def publish(self, symbol: str, price: Decimal | None = None) -> float:
        from gridsup.messages.market import Tick

        if price is not None:
            self.prices[symbol] = price
        now = time.time()
        tick = Tick(symbol=symbol, timestamp=int(now * 1000), last=self.prices[symbol])
        await self.sock.send_multipart([self.topics[symbol], self.codec.encode(tick)])
        return now

    async def run(self, skip: set[str]) -> None:
        """Every market once a second (but those in ``skip``: they are moving)."""
        while True:
            for symbol in self.topics:
                if symbol not in skip:
                    await self.publish(symbol)
            await asyncio.sleep(1.0)

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def counter_orders(db_file: Path, since: float) -> list[tuple[str, str, float]]:
    """(grid, side letter, when the exchange accepted it) of every order acknowledged
    from ``since`` on (wall-clock seconds, ms resolution)."""
    con = sqlite3.connect(db_file)
    try:
        rows = con.execute(
            "SELECT strategy, client_order_id, timestamp FROM order_events"
            " WHERE kind = 'acknowledged' AND timestamp >= ?",
            (int(since * 1000),),
        ).fetchall()
    finally:
        con.close()
    return [(grid, cid[10], ms / 1000) for grid, cid, ms in rows]


def status_times(base: Path, rounds: int = 3) -> dict[str, list[float]]:
    """`gridsup status --json` as a new process (wall time), and the control round trip
    alone (this process), ``rounds`` times each."""
    from gridsup.messages.control import StatusQuery
    from gridsup.supervisor.client import ask

    cli, trip = [], []
    command = [sys.executable, "-m", "gridsup", "status", "--json", "--run-dir", str(base)]
    for _ in range(rounds):
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False, timeout=60)
        cli.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"gridsup status failed: {done.stderr.decode()[-500:]}")
        began = time.perf_counter()
        ask(base, StatusQuery(), timeout=30)
        trip.append(time.perf_counter() - began)
    return {"cli": cli, "trip": trip}


def time_spawns() -> list[float]:
    """The supervisor's seconds in each of its spawns from now on (its spawn wrapped)."""
    from gridsup.supervisor.processes import ProcessEffects

    times: list[float] = []
    spawn = ProcessEffects.spawn

    def timed(self: Any, spec: Any) -> Any:
        began = time.perf_counter()
        try:
            return spawn(self, spec)
        finally:
            times.append(time.perf_counter() - began)

    ProcessEffects.spawn = timed  # type: ignore[method-assign]
    return times


def start_cpu(children: dict[str, Any], began: float) -> dict[str, float]:
    """CPU seconds by kind of process from the start to now: the actors' whole lives
    so far, this process's (the supervisor's) since ``began``; the forkserver apart."""
    import psutil

    me = psutil.Process()
    tree = me.children(recursive=True)
    kinds = process_kinds(me, tree, children)
    out = {k: v / 1000 for k, v in cpu_by_kind(kinds).items() if k != "supervisor"}
    out["supervisor"] = time.process_time() - began
    return out


async def measure(
    specs: list[Any], run: Any, base: Path, db_file: Path, symbols: list[str], args: Any
) -> dict[str, Any]:
    import psutil

    from gridsup.supervisor.states import ChildState

    spawns = time_spawns()
    cpu_began = time.process_time()
    sup, task, endpoint = await start_supervisor(specs, base, run.run_dir)
    loop = asyncio.get_running_loop()
    market = Markets(endpoint, symbols)
    moving: set[str] = set()
    ticker = loop.create_task(market.run(moving))
    names = [s.name for s in specs if s.kind == "strategy"]
    group_of = {g.name: g.symbol for g in run.grids}  # grid -> its market
    out: dict[str, Any] = {"grids": len(names)}
    started = time.perf_counter()
    try:
        ready_at = None
        while True:
            children = sup.supervision.children if sup.supervision else {}
            if (
                ready_at is None
                and children
                and all(children[n].state is ChildState.RUNNING for n in names)
            ):
                ready_at = time.perf_counter() - started
                out["start_cpu"] = start_cpu(children, cpu_began)
                out["spawns"] = list(spawns)
            if ready_at is not None and trading(children, names):
                break
            if task.done() or time.perf_counter() - started > 600:
                raise SystemExit("the grids did not settle within 600 s")
            await asyncio.sleep(0.1)
        out["ready_s"], out["orders_out_s"] = ready_at, time.perf_counter() - started
        await asyncio.sleep(3)  # the first heartbeats and saves pass
        me = psutil.Process()
        tree = me.children(recursive=True)
        kinds = process_kinds(me, tree, children)
        strategy_pids = {p for p, k in kinds.items() if k == "strategy"}
        out["processes"] = len(tree) + 1
        out["uss_total"] = sum(uss(p) for p in [*tree, me])
        out["uss_strategy"] = [uss(p) for p in tree if p.pid in strategy_pids]
        by_kind: dict[str, int] = {}
        for pid, kind in kinds.items():
            by_kind[kind] = max(by_kind.get(kind, 0), fds(pid))
        out["fds"] = by_kind
        out["threads"] = sum(p.num_threads() for p in [*tree, me] if p.is_running())

        cpu0, t0 = cpu_by_kind(kinds), time.perf_counter()
        await asyncio.sleep(args.idle)
        idle_s = time.perf_counter() - t0
        idle = spent(cpu0, cpu_by_kind(kinds))
        out["idle"] = {k: ms / 1000 / idle_s for k, ms in idle.items()}

        out["status"] = await loop.run_in_executor(None, status_times, base)

        # The moves: one market a tick, each a second apart, down then up per market.
        first = time.time()
        moves: list[tuple[str, float, str]] = []  # (market, tick time, counter side)
        cpu0, t0 = cpu_by_kind(kinds), time.perf_counter()
        for m in range(args.moves):
            symbol = symbols[m % len(symbols)]
            down = market.prices[symbol] == PRICE or market.prices[symbol] == UP
            price = DOWN if down else UP
            moving.add(symbol)
            moves.append((symbol, await market.publish(symbol, price), "s" if down else "b"))
            moving.discard(symbol)
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)  # the last move's orders
        moves_s = time.perf_counter() - t0
        cpu = spent(cpu0, cpu_by_kind(kinds))
        out["move_cpu"] = {
            k: (ms - out["idle"].get(k, 0.0) * 1000 * moves_s) / len(moves) for k, ms in cpu.items()
        }
        out["moving"] = len(names) / len(symbols)
        out["latency"], out["missing"] = _latencies(db_file, first, moves, group_of)
    finally:
        await shut_down(sup, task, ticker, market)
    return out


def _latencies(
    db_file: Path, first: float, moves: list[tuple[str, float, str]], group_of: dict[str, str]
) -> tuple[list[float], int]:
    """Tick -> counter order on the exchange, for every grid of each move's market; and
    how many grids never placed theirs."""
    orders = counter_orders(db_file, first)
    out: list[float] = []
    missing = 0
    for n, (symbol, t0, side) in enumerate(moves):
        end = moves[n + 1][1] if n + 1 < len(moves) else float("inf")
        grids = {g for g, s in group_of.items() if s == symbol}
        seen: dict[str, float] = {}
        for grid, s, at in orders:
            if grid in grids and s == side and t0 - 0.001 <= at < end:
                seen[grid] = min(seen.get(grid, at), at)
        missing += len(grids) - len(seen)
        out += [max(0.0, at - t0) for at in seen.values()]
    return out, missing


def run_size(count: int, symbols: list[str], args: Any) -> dict[str, Any]:
    from gridsup import app
    from gridsup.actors.run_config import MARKET_DATA_ACTOR
    from gridsup.commands.prepare import prepare

    work = Path(tempfile.mkdtemp(prefix="gsthousand-"))
    os.environ["GRIDSUP_DATA_DIR"] = str(work / "data")
    base = work / "run"
    try:
        _, run, _ = prepare(grids_file(work, count, symbols), app.StartOptions(), base)
        specs = [s for s in app.child_specs(run) if s.name != MARKET_DATA_ACTOR]
        db = work / "data" / "gridsup.db"
        return asyncio.run(measure(specs, run, base, db, symbols, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    mb = 1024 * 1024
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn: Any) -> None:
        rows.append((label, [fn(r) for r in results]))

    row("processes (threads)", lambda r: f"{r['processes']} ({r['threads']})")
    row("start: every grid Ready", lambda r: f"{r['ready_s']:.1f} s")
    row("start: every grid's orders out", lambda r: f"{r['orders_out_s']:.1f} s")
    row(
        "  CPU to Ready, s, by kind",
        lambda r: ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["start_cpu"].items())),
    )
    row(
        "  supervisor: in spawns, total / per spawn p50 / max",
        lambda r: (
            f"{sum(r['spawns']):.1f} s / {pct(r['spawns'], 0.5) * 1000:.1f}"
            f" / {max(r['spawns']) * 1000:.0f} ms (n={len(r['spawns'])})"
        ),
    )
    row("USS total", lambda r: f"{r['uss_total'] / mb:,.0f} MB")
    row(
        "USS per strategy actor p50 / max",
        lambda r: f"{pct(r['uss_strategy'], 0.5) / mb:.1f} / {max(r['uss_strategy']) / mb:.1f} MB",
    )
    row(
        "open files: supervisor / execution / persistence / strategy",
        lambda r: " / ".join(
            str(r["fds"].get(k, 0)) for k in ("supervisor", "execution", "persistence", "strategy")
        ),
    )
    row("idle CPU, % of one core", lambda r: f"{sum(r['idle'].values()) * 100:.1f} %")
    row(
        "  by kind",
        lambda r: ", ".join(f"{k} {v * 100:.1f}" for k, v in sorted(r["idle"].items())),
    )
    row(
        "gridsup status --json (new process) p50 / max",
        lambda r: f"{pct(r['status']['cli'], 0.5):.2f} / {max(r['status']['cli']):.2f} s",
    )
    row(
        "status round trip alone p50 / max",
        lambda r: (
            f"{pct(r['status']['trip'], 0.5) * 1000:.0f} / {max(r['status']['trip']) * 1000:.0f} ms"
        ),
    )
    row("grids moving per tick", lambda r: f"{r['moving']:.0f}")
    row(
        "tick -> counter order p50 / p99 / max",
        lambda r: (
            f"{pct(r['latency'], 0.5) * 1000:.0f} / {pct(r['latency'], 0.99) * 1000:.0f}"
            f" / {max(r['latency']) * 1000:.0f} ms (n={len(r['latency'])}, missing {r['missing']})"
        ),
    )
    row("CPU per move, all processes", lambda r: f"{sum(r['move_cpu'].values()):.0f} ms")
    row(
        "  per grid that moved",
        lambda r: f"{sum(r['move_cpu'].values()) / r['moving']:.2f} ms",
    )
    row(
        "  by kind",
        lambda r: ", ".join(f"{k} {v:.0f}" for k, v in sorted(r["move_cpu"].items())),
    )
    heads = [
        f"{r['grids']} grids" + (" (baseline)" if i == 0 else "") for i, r in enumerate(results)
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'':<{width}}  " + "  |  ".join(heads))
    for label, values in rows:
        print(f"{label:<{width}}  " + "  |  ".join(values))
    big = results[-1]
    return [
        ("every grid Ready <= 20 s", big["ready_s"] <= 20),
        ("total USS <= 8 GB", big["uss_total"] <= 8 * 1024 * mb),
        ("idle CPU <= 10 %", sum(big["idle"].values()) <= 0.10),
        ("gridsup status <= 1 s", max(big["status"]["cli"]) <= 1.0),
        ("tick->order p99 <= 100 ms", pct(big["latency"], 0.99) <= 0.1 and not big["missing"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100, help="grids of the baseline run")
    parser.add_argument("--groups", type=int, default=10, help="markets; one moves per tick")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--moves", type=int, default=10, help="moves, one a second")
    args = parser.parse_args()
    from gridsup.logging import configure_logging

    configure_logging("WARNING")
    symbols = register_markets(args.groups)
    results = [run_size(n, symbols, args) for n in (args.baseline, args.grids) if n > 0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(
        f"{args.grids} dry-run grids on {len(symbols)} markets, {os.cpu_count()} CPUs, "
        f"ulimit -n {soft} (hard {hard}), {dt.datetime.now():%Y-%m-%d %H:%M}"
    )
    checks = report(results)
    print("targets: " + ", ".join(f"{name} {'MET' if ok else 'MISSED'}" for name, ok in checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
