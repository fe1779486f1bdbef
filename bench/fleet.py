"""A fleet of grids on one machine: memory, idle CPU and tick-to-order latency.

    .venv/bin/python bench/fleet.py [--grids 100] [--idle 10] [--cpus N]

Runs ``--grids`` dry-run grids on BTC/USDT (paper exchange, SQLite) with the real
preflight, child specs, supervisor, forkserver and actors. The market-data actor is
replaced by this script's own publisher on the MARKET channel (same socket, same Tick
messages), so that the price is under control: a flat price while idle, then five moves
a second and a half apart, each of which fills one order on every grid at once: down
through every grid's 59500 buy, up through the 60000 sell that replaced it, and so on.
The first move meets a fleet that has been idle since start-up; the others a warm one.

Printed:
- start-up: spawn of the first actor -> every grid Ready;
- memory: USS (memory unique to a process) summed over the whole process tree, and per
  strategy actor (p50/max); the supervisor runs in this script's process, listed apart;
- idle CPU: all processes over ``--idle`` seconds with one tick per second, in % of one
  core, in total and by kind of process (CPU time of every thread, /proc/<pid>/task/*/schedstat);
- the CPU each kind of process spent on a move, in the 0.6 s after its tick; the
  messages each kind of actor received per move (from their heartbeats' counts: each
  is at least one wake-up's worth of work, see bench/wakeup.py);
- per move (the first; the other four together), from the stored order events:
  tick published -> each grid's fill stored (``recorded_at``: the execution actor's
  commit; the fill update leaves as its Acks arrive); tick -> the grid's counter order
  on the exchange (the event's own ``timestamp``, ms, taken when the exchange accepted
  the order: the tick-to-order latency of the target); tick -> that event stored (the
  commit the order's Ack to the strategy waits for).
``--cpus N`` pins this script and every process it starts to the first N of its cpus
(affinity is inherited), to see how the latency follows the cpus.
Baseline measured in the same run: the same latencies for one grid alone, before the
fleet starts. The target is checked on every counter order of the five moves.
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

from figures import ms_line, pct
from supervised import process_kinds, shut_down, start_supervisor, trading

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


def uss(proc: psutil.Process) -> int:
    import psutil

    try:
        return int(proc.memory_full_info().uss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def cpu_ms(pid: int) -> float:
    """CPU time of ``pid`` so far, in ms, all of its threads (ZeroMQ's I/O thread, a
    database driver's): the sum of /proc/<pid>/task/*/schedstat (nanoseconds; the
    process's own /proc/<pid>/schedstat counts its first thread only) where there is
    one, else psutil's user + system (10 ms clock ticks). Threads that have ended are
    not counted (an actor's threads live as long as it does)."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e6
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


def wake_ups(pids: set[int]) -> dict[str, float]:
    """Times the processes ``pids`` have woken so far (voluntary context switches: a
    thread that blocked and was woken), summed by thread: the actors' own thread
    ("main") and ZeroMQ's I/O thread of each ("zmq I/O")."""
    out = {"main": 0.0, "zmq I/O": 0.0}
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as status:
                    text = status.read()
            except OSError:
                continue
            name = text.split("\n", 1)[0].split(":", 1)[1].strip()
            key = "main" if int(tid) == pid else "zmq I/O" if name.startswith("ZMQbg/IO") else ""
            if key:
                line = next(x for x in text.splitlines() if x.startswith("voluntary_ctxt"))
                out[key] += int(line.split()[1])
    return out


def received_by_kind(children: dict[str, Any]) -> dict[str, float]:
    """Messages the actors have received so far (their last heartbeat's count; the
    supervisor's own commands not counted), by kind of actor."""
    out: dict[str, float] = {}
    for child in children.values():
        count = child.status.get("messages")
        if isinstance(count, int):
            out[child.spec.kind] = out.get(child.spec.kind, 0.0) + count
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


def order_events(
    db_file: Path, kind: str, side: str, since: float
) -> dict[str, tuple[float, float]]:
    """Each grid's first ``kind`` event of a ``side`` order ("s" sell, "b" buy) that
    happened after ``since``: (when it happened, when it was stored), wall-clock seconds.

    "Happened" is the event's own ``timestamp`` (ms), taken by the execution actor the
    moment the exchange answered (for "acknowledged": the order is on the exchange);
    "stored" is ``recorded_at``, the persistence actor's commit of the event."""
    import sqlite3

    con = sqlite3.connect(db_file)
    try:
        rows = con.execute(
            "SELECT strategy, client_order_id, timestamp, recorded_at FROM order_events"
            " WHERE kind = ? AND timestamp >= ?",
            (kind, int(since * 1000)),
        ).fetchall()
    finally:
        con.close()
    out: dict[str, tuple[float, float]] = {}
    for strategy, cid, happened_ms, recorded in rows:
        if cid[10] != side:  # gs + 8-hex tag, then the side letter
            continue
        stored = dt.datetime.fromisoformat(str(recorded)).replace(tzinfo=dt.UTC).timestamp()
        # ms resolution: the event cannot precede the tick that caused it.
        happened = max(happened_ms / 1000, since)
        if strategy not in out or happened < out[strategy][0]:
            out[strategy] = (happened, stored)
    return out


# The moves: the first fills the 59500 buy of every grid (counter: a sell at 60000);
# then up through 60000 (the sells fill, counter buys at 59500) and down again, so that
# every move after the first fills one order per grid on an already warm fleet.
UP = Decimal(60100)
MOVES = (MOVE, UP, MOVE, UP, MOVE)


async def measure_move(
    market: Market, price: Decimal, db_file: Path, grids: int, kinds: dict[int, str]
) -> dict[str, Any]:
    """Publish ``price`` and wait until every grid's counter order is stored: the fill and
    counter-order times of each grid, and the CPU each kind of process spent on it."""
    filled, counter = ("b", "s") if price < PRICE else ("s", "b")
    cpu0 = cpu_by_kind(kinds)
    t0 = await market.publish(price)
    # Everything the move sets off is over well within this: the CPU each kind of
    # process spent on it (its idle cost included) is read at t0 + 0.6 s.
    await asyncio.sleep(max(0.0, t0 + 0.6 - time.time()))
    cpu = spent(cpu0, cpu_by_kind(kinds))
    deadline = time.time() + 120
    orders: dict[str, tuple[float, float]] = {}
    while time.time() < deadline:
        orders = order_events(db_file, "acknowledged", counter, t0)
        if len(orders) >= grids:
            break
        await asyncio.sleep(0.25)
    fills = order_events(db_file, "filled", filled, t0)
    return {
        "fill_stored": [stored - t0 for _, stored in fills.values()],
        "placed": [happened - t0 for happened, _ in orders.values()],
        "order_stored": [stored - t0 for _, stored in orders.values()],
        "grids": len(orders),
        "cpu": cpu,
    }


async def fleet(
    specs: list[Any], run: Any, base: Path, db_file: Path, idle_s: float, verbose: bool
) -> dict[str, Any]:
    log_level = "INFO" if verbose else "WARNING"
    sup, task, endpoint = await start_supervisor(specs, base, run.run_dir, log_level)
    loop = asyncio.get_running_loop()
    market = Market(endpoint)
    ticker = loop.create_task(market.run(1.0))
    strategies = [s.name for s in specs if s.kind == "strategy"]
    started = time.perf_counter()
    result: dict[str, Any] = {}
    try:
        while True:
            children = sup.supervision.children if sup.supervision else {}
            if children and trading(children, strategies):
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
        kinds = process_kinds(me, tree, children)
        cpu0, t_cpu = cpu_by_kind(kinds), time.perf_counter()
        woke0 = wake_ups(strategy_pids)
        await asyncio.sleep(idle_s)
        idle = spent(cpu0, cpu_by_kind(kinds))
        seconds = time.perf_counter() - t_cpu
        idle_woke = spent(woke0, wake_ups(strategy_pids))
        result["idle_wake_ups"] = {
            k: n / seconds / len(strategy_pids) for k, n in idle_woke.items()
        }
        result["idle_cpu"] = sum(idle.values()) / 1000 / seconds
        result["idle_by_kind"] = {kind: ms / 1000 / seconds for kind, ms in idle.items()}

        received0 = received_by_kind(children)
        woke0, t_moves = wake_ups(strategy_pids), time.perf_counter()
        span_cpu0 = cpu_by_kind(kinds)
        moves = []
        for price in MOVES:
            ticker.cancel()
            moves.append(await measure_move(market, price, db_file, len(strategies), kinds))
            ticker = loop.create_task(market.run(1.0))
            await asyncio.sleep(1.0)  # a flat second between moves, as at idle
        result["moves"] = moves
        # Counts come with heartbeats: wait until every actor has sent a fresh one.
        await asyncio.sleep(
            2 * max(c.spec.effective_policy.heartbeat_interval for c in children.values())
        )
        received = spent(received0, received_by_kind(children))
        result["received"] = {k: n / len(MOVES) for k, n in received.items()}
        woke = spent(woke0, wake_ups(strategy_pids))
        span = time.perf_counter() - t_moves
        result["span_cpu"] = {
            k: (ms - result["idle_by_kind"][k] * 1000 * span) / len(MOVES)
            for k, ms in spent(span_cpu0, cpu_by_kind(kinds)).items()
        }
        result["move_wake_ups"] = {
            k: (n / len(strategy_pids) - result["idle_wake_ups"][k] * span) / len(MOVES)
            for k, n in woke.items()
        }
    finally:
        await shut_down(sup, task, ticker, market)
    return result


def run_fleet(count: int, idle_s: float, verbose: bool) -> dict[str, Any]:
    from gridsup import app
    from gridsup.actors.run_config import MARKET_DATA_ACTOR
    from gridsup.commands.prepare import prepare

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
    parser.add_argument("--cpus", type=int, help="run on the first N cpus only (affinity)")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if args.cpus is not None:
        if not 1 <= args.cpus <= len(cpus):
            parser.error(f"--cpus must be between 1 and {len(cpus)}")
        cpus = cpus[: args.cpus]
        os.sched_setaffinity(0, cpus)  # inherited by the forkserver and every actor
    from gridsup.logging import configure_logging

    configure_logging("WARNING")
    mb = 1024 * 1024
    baseline = run_fleet(1, 1.0, args.verbose)
    big = run_fleet(args.grids, args.idle, args.verbose)
    per = big["uss_strategy"]
    total = big["uss_tree"] + big["uss_self"]
    print(f"fleet of {args.grids} dry-run grids ({big['processes']} processes), {len(cpus)} CPUs")
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
    moves = big["moves"]
    steady = moves[1:]

    def merged(key: str, of: list[dict[str, Any]]) -> list[float]:
        return [v for m in of for v in m[key]]

    def cpu_line(label: str, of: list[dict[str, Any]]) -> str:
        kinds = of[0]["cpu"].keys()
        mean = {k: sum(m["cpu"][k] for m in of) / len(of) for k in kinds}
        return f"{label}: {sum(mean.values()):.0f} ms; by kind: " + ", ".join(
            f"{kind} {ms:.0f} ms" for kind, ms in mean.items()
        )

    received = big["received"]
    print(
        "messages received per move (all five, mean), by kind: "
        + ", ".join(f"{kind} {n:.0f}" for kind, n in sorted(received.items()))
        + f"; per strategy actor {received.get('strategy', 0) / args.grids:.1f}"
    )
    print(
        "wake-ups per strategy actor: idle, per second: "
        + ", ".join(f"{k} {n:.1f}" for k, n in big["idle_wake_ups"].items())
        + "; per move, idle rate deducted: "
        + ", ".join(f"{k} {n:.1f}" for k, n in big["move_wake_ups"].items())
    )
    print(cpu_line("CPU spent on the first move (0.6 s from its tick)", moves[:1]))
    print(
        cpu_line(
            "CPU per move over the moves' whole span (timers after them too), idle deducted",
            [{"cpu": big["span_cpu"]}],
        )
    )
    print(cpu_line(f"CPU spent per move, moves 2-{len(moves)} (mean)", steady))
    for label, of in (("first move", moves[:1]), (f"moves 2-{len(moves)}", steady)):
        print(f"{label} ({sum(m['grids'] for m in of)} counter orders):")
        print(ms_line("  tick -> fill stored", merged("fill_stored", of)))
        print(ms_line("  tick -> counter order on the exchange", merged("placed", of)))
        print(ms_line("  tick -> counter order stored", merged("order_stored", of)))
    base = baseline["moves"]
    print(ms_line("baseline, one grid: tick -> order on the exchange", merged("placed", base)))
    print(ms_line("baseline, one grid: tick -> order stored", merged("order_stored", base)))
    placed = merged("placed", moves)
    checks = [
        ("total <= 1.5 GB", total <= 1.5 * 1024 * mb),
        ("<= 10 MB USS per strategy actor", max(per) <= 10 * mb),
        ("tick-to-order p99 <= 50 ms (all moves)", pct(placed, 0.99) <= 0.05),
        ("idle CPU < 5 %", big["idle_cpu"] < 0.05),
    ]
    print("targets: " + ", ".join(f"{name} {'MET' if ok else 'MISSED'}" for name, ok in checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
