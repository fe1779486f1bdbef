"""A fleet of grids on one machine: memory, idle CPU and tick-to-order latency.

    .venv/bin/python bench/fleet.py [--grids 100] [--idle 10]

Runs ``--grids`` dry-run grids on BTC/USDT (paper exchange, SQLite) with the real
preflight, child specs, supervisor, forkserver and actors. The market-data actor is
replaced by this script's own publisher on the MARKET channel (same socket, same Tick
messages), so that the price is under control: a flat price while idle, then one move
that fills a buy on every grid at once.

Printed:
- start-up: spawn of the first actor -> every grid Ready;
- memory: USS (memory unique to a process) summed over the whole process tree, and per
  strategy actor (p50/max); the supervisor runs in this script's process, listed apart;
- idle CPU: all processes over ``--idle`` seconds with one tick per second, in % of one
  core, in total and by kind of process (CPU time from /proc/<pid>/schedstat);
- the CPU each kind of process spent on the move, in the 0.6 s after its tick;
- tick -> fill: the move's tick published -> each grid's fill update published by the
  execution actor (after the fill is stored), p50/p99;
- tick -> order: the move's tick published -> each grid's counter order accepted by the
  exchange and its event stored (order_events.recorded_at), p50/p99.
- with ``--spans``, where the tick -> order time goes, from the stored rows' own
  timestamps (order_events.recorded_at, per grid, from the move's tick): the buy's fill
  stored (first commit of the execution actor's batch; the fill update leaves once the
  whole batch and the paper snapshot covering it are acked), then the sell acknowledged
  (the strategy's state save, its PlaceOrder and the execution actor's commit after it).
Baseline measured in the same run: the same two latencies for one grid alone, before
the fleet starts.
Targets (issue 6): <= 1.5 GB total, <= 10 MB USS per strategy actor, tick-to-order p99
<= 50 ms, idle CPU < 5 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil


PRICE = Decimal(60000)
MOVE = Decimal(59400)  # below every grid's 59500 buy, above its 59000 one
GRID = """
[[grid]]
name = "f{i:03d}"
symbol = "BTC/USDT"
lower_price = 57000
upper_price = 63000
num_grids = 13
total_investment = 300
initial_position = "none"
"""


def grids_file(directory: Path, count: int) -> Path:
    text = '[exchange]\nid = "paper"\n[exchange.paper_balances]\n'
    text += f"USDT = {300 * count}\n"
    text += "".join(GRID.format(i=i) for i in range(count))
    path = directory / f"grids-{count}.toml"
    path.write_text(text)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms_line(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{label:<36} p50 {pct(ms, 0.5):7.1f} ms   p99 {pct(ms, 0.99):7.1f} ms   "
        f"max {max(ms):7.1f} ms   (n={len(ms)})"
    )


def uss(proc: psutil.Process) -> int:
    import psutil

    try:
        return int(proc.memory_full_info().uss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def cpu_ms(pid: int) -> float:
    """CPU time of ``pid`` so far, in ms: /proc/<pid>/schedstat (nanoseconds) where
    there is one, else psutil's user + system (10 ms clock ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        import psutil

        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return (times.user + times.system) * 1000


def cpu_by_kind(kinds: dict[int, str]) -> dict[str, float]:
    """CPU ms so far per actor kind (``kinds``: pid -> kind)."""
    out: dict[str, float] = {}
    for pid, kind in kinds.items():
        out[kind] = out.get(kind, 0.0) + cpu_ms(pid)
    return out


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: after[kind] - before.get(kind, 0.0) for kind in after}


class Market:
    """This script's MARKET publisher (the market-data actor's socket and messages)."""

    def __init__(self, endpoint: str) -> None:
        import zmq
        import zmq.asyncio

        from gridsup.actors.run_config import topic
        from gridsup.messages.market import MARKET_CODEC

        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.topic = topic("BTC/USDT")
        self.codec = MARKET_CODEC
        self.price = PRICE

    async def publish(self, price: Decimal | None = None) -> float:
        from gridsup.messages.market import Tick

        if price is not None:
            self.price = price
        now = time.time()
        tick = Tick(symbol="BTC/USDT", timestamp=int(now * 1000), last=self.price)
        await self.sock.send_multipart([self.topic, self.codec.encode(tick)])
        return now

    async def run(self, interval: float) -> None:
        while True:
            await self.publish()
            await asyncio.sleep(interval)

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


async def fill_updates(endpoint: str, wanted: int, t0_box: list[float]) -> dict[str, float]:
    """Receive time of each grid's first fill update after the move."""
    import zmq
    import zmq.asyncio

    from gridsup.messages.orders import ORDER_FEED_CODEC

    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    seen: dict[str, float] = {}
    try:
        while len(seen) < wanted:
            frames = await sock.recv_multipart()
            now = time.time()
            update = ORDER_FEED_CODEC.decode(frames[-1])
            if t0_box and update.fill is not None and update.strategy not in seen:
                seen[update.strategy] = now
    finally:
        sock.close(0)
        ctx.term()
    return seen


def counter_orders(
    db_file: Path, since: float, kind: str = "acknowledged", side: str = "s"
) -> dict[str, float]:
    """Each grid's first ``kind`` event of a ``side`` order ("s" sell, "b" buy) stored
    after ``since`` (wall time it was stored); default: the counter sell acknowledged."""
    import sqlite3

    con = sqlite3.connect(db_file)
    try:
        rows = con.execute(
            "SELECT strategy, client_order_id, recorded_at FROM order_events WHERE kind = ?",
            (kind,),
        ).fetchall()
    finally:
        con.close()
    out: dict[str, float] = {}
    for strategy, cid, recorded in rows:
        at = dt.datetime.fromisoformat(str(recorded)).replace(tzinfo=dt.UTC).timestamp()
        if at >= since and cid[10] == side:  # gs + 8-hex tag, then the side letter
            out[strategy] = min(at, out.get(strategy, at))
    return out


SPANS = (
    ("buy fill stored", "filled", "b"),
    ("sell acknowledged stored", "acknowledged", "s"),
)


async def fleet(
    specs: list[Any], run: Any, base: Path, db_file: Path, idle_s: float, verbose: bool
) -> dict[str, Any]:
    from gridsup.actors.endpoints import RunDir
    from gridsup.actors.run_config import MARKET, ORDER_UPDATES
    from gridsup.commands.start import _strategy_preload
    from gridsup.supervisor.runner import Supervisor
    from gridsup.supervisor.states import ChildState

    sup = Supervisor(
        specs, base=base, preload=_strategy_preload(), log_level="INFO" if verbose else "WARNING"
    )
    loop = asyncio.get_running_loop()
    task = loop.create_task(sup.run())
    while not Path(run.run_dir).is_dir():
        await asyncio.sleep(0.01)
    rundir = RunDir(Path(run.run_dir))
    market = Market(rundir.endpoint(MARKET))
    ticker = loop.create_task(market.run(1.0))
    strategies = [s.name for s in specs if s.kind == "strategy"]
    started = time.perf_counter()
    result: dict[str, Any] = {}
    try:
        while True:
            children = sup.supervision.children if sup.supervision else {}
            if children and all(
                children[n].state is ChildState.RUNNING
                and children[n].status.get("requests_pending") == 0
                and (children[n].status.get("open_orders") or 0) > 0
                for n in strategies
            ):
                break
            if task.done() or time.perf_counter() - started > 600:
                raise SystemExit("the fleet did not settle within 600 s")
            await asyncio.sleep(0.1)
        result["startup_s"] = time.perf_counter() - started
        import psutil

        me = psutil.Process()
        tree = me.children(recursive=True)
        await asyncio.sleep(2)  # let the first heartbeats and state saves pass
        strategy_pids = {children[n].pid for n in strategies}
        per_strategy = [uss(p) for p in tree if p.pid in strategy_pids]
        result["uss_tree"] = sum(uss(p) for p in tree)
        result["uss_self"] = uss(me)
        result["uss_strategy"] = per_strategy
        result["processes"] = len(tree) + 1
        # This process is the supervisor and the bench's market publisher; the rest of
        # the tree that is not an actor is the forkserver and the resource tracker.
        kinds = {p.pid: "other" for p in tree}
        kinds.update({c.pid: c.spec.kind for c in children.values() if c.pid is not None})
        kinds[me.pid] = "supervisor"
        cpu0, t_cpu = cpu_by_kind(kinds), time.perf_counter()
        await asyncio.sleep(idle_s)
        idle = spent(cpu0, cpu_by_kind(kinds))
        seconds = time.perf_counter() - t_cpu
        result["idle_cpu"] = sum(idle.values()) / 1000 / seconds
        result["idle_by_kind"] = {kind: ms / 1000 / seconds for kind, ms in idle.items()}

        t0_box: list[float] = []
        listener = loop.create_task(
            fill_updates(rundir.endpoint(ORDER_UPDATES), len(strategies), t0_box)
        )
        await asyncio.sleep(0.5)  # the SUB socket joins before the move
        ticker.cancel()
        cpu0 = cpu_by_kind(kinds)
        t0 = await market.publish(MOVE)
        t0_box.append(t0)
        ticker = loop.create_task(market.run(1.0))
        fills = await asyncio.wait_for(listener, 120)
        # Everything the move set off is over well within this (the next tick comes at
        # t0 + 1 s): the CPU each kind of process spent on it, idle cost included.
        await asyncio.sleep(max(0.0, t0 + 0.6 - time.time()))
        result["move_by_kind"] = spent(cpu0, cpu_by_kind(kinds))
        deadline = time.time() + 120
        orders: dict[str, float] = {}
        while len(orders) < len(strategies) and time.time() < deadline:
            await asyncio.sleep(0.5)
            orders = counter_orders(db_file, t0)
        result["tick_to_fill"] = [t - t0 for t in fills.values()]
        result["tick_to_order"] = [t - t0 for t in orders.values()]
        result["spans"] = {
            label: [t - t0 for t in counter_orders(db_file, t0, kind, side).values()]
            for label, kind, side in SPANS
        }
        result["orders_seen"] = len(orders)
    finally:
        ticker.cancel()
        if sup.supervision is not None:
            sup.supervision.stop()
        await task
        market.close()
    return result


def run_fleet(count: int, idle_s: float, verbose: bool) -> dict[str, Any]:
    from gridsup import app
    from gridsup.actors.run_config import MARKET_DATA_ACTOR
    from gridsup.commands.start import prepare

    work = Path(tempfile.mkdtemp(prefix="gsfleet-"))
    os.environ["GRIDSUP_DATA_DIR"] = str(work / "data")
    base = work / "run"
    try:
        _, run, _ = prepare(grids_file(work, count), app.StartOptions(), base)
        specs = [s for s in app.child_specs(run) if s.name != MARKET_DATA_ACTOR]
        return asyncio.run(fleet(specs, run, base, work / "data" / "gridsup.db", idle_s, verbose))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--verbose", action="store_true", help="actor logs at INFO")
    parser.add_argument(
        "--spans", action="store_true", help="where tick -> order goes (stored timestamps)"
    )
    args = parser.parse_args()
    from gridsup.logging import configure_logging

    configure_logging("WARNING")
    mb = 1024 * 1024
    baseline = run_fleet(1, 3.0, args.verbose)
    big = run_fleet(args.grids, args.idle, args.verbose)
    per = big["uss_strategy"]
    total = big["uss_tree"] + big["uss_self"]
    print(
        f"fleet of {args.grids} dry-run grids ({big['processes']} processes), {os.cpu_count()} CPUs"
    )
    print(f"start-up to every grid Ready with orders out: {big['startup_s']:.1f} s")
    print(
        f"memory (USS): total {total / mb:.0f} MB (actors and forkserver {big['uss_tree'] / mb:.0f}"
        f" MB, supervisor process {big['uss_self'] / mb:.0f} MB)"
    )
    print(
        f"memory (USS) per strategy actor: p50 {pct(per, 0.5) / mb:.1f} MB, "
        f"max {max(per) / mb:.1f} MB"
    )
    print(f"idle CPU (1 tick/s), all processes: {big['idle_cpu'] * 100:.1f} % of one core")
    print(
        "  by kind: "
        + ", ".join(f"{kind} {share * 100:.1f} %" for kind, share in big["idle_by_kind"].items())
    )
    move = big["move_by_kind"]
    print(
        f"CPU spent on the move (0.6 s from its tick): {sum(move.values()):.0f} ms; by kind: "
        + ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in move.items())
    )
    print(ms_line("tick -> fill update (every grid)", big["tick_to_fill"]))
    print(ms_line(f"tick -> counter order ({big['orders_seen']} grids)", big["tick_to_order"]))
    if args.spans:
        for label, values in big["spans"].items():
            if values:
                print(ms_line(f"  span: tick -> {label}", values))
    print(ms_line("baseline, one grid: tick -> fill", baseline["tick_to_fill"]))
    print(ms_line("baseline, one grid: tick -> order", baseline["tick_to_order"]))
    checks = [
        ("total <= 1.5 GB", total <= 1.5 * 1024 * mb),
        ("<= 10 MB USS per strategy actor", max(per) <= 10 * mb),
        ("tick-to-order p99 <= 50 ms", pct(big["tick_to_order"], 0.99) <= 0.05),
        ("idle CPU < 5 %", big["idle_cpu"] < 0.05),
    ]
    print("targets: " + ", ".join(f"{name} {'MET' if ok else 'MISSED'}" for name, ok in checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
