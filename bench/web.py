"""The web dashboard with a fleet of 200 grids: first render of the fleet page in a real
headless Chromium, and the CPU the serving process spends on live updates while that
one page watches. Goals (issue 20): page < 1 s, < 2 % of a core while one browser watches.

The server is the dashboard's real aiohttp application (``gridsup.web.app``) in its own
process, fed by a fake fleet source (the seam ``StatusSource``): every second each grid's
status changes (heartbeat and tick ages, a price move per symbol, now and then a cycle),
as the supervisor's would. Baselines from the same run: the server's CPU over the same
time with nobody watching (the fake heartbeats alone), and the time Chromium takes to
load a static asset of the same server (the browser's and the network's floor).

Run:  .venv/bin/python bench/web.py [--grids 200] [--watch 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
import psutil

from gridsup.messages.control import ActorStatus
from gridsup.web.fleet import GridInfo, grid_info

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SYMBOLS = [f"C{k}/USDT" for k in range(20)]


class BenchSource:
    """``n`` grids over 20 symbols; :meth:`beat` is what a second of heartbeats changes."""

    def __init__(self, n: int) -> None:
        self.infos: list[GridInfo] = []
        self.status: dict[str, ActorStatus] = {}
        for i in range(n):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            info = grid_info(
                f"grid-{i:03d}",
                f"grid-grid-{i:03d}",
                symbol,
                {
                    "name": f"grid-{i:03d}",
                    "symbol": symbol,
                    "lower_price": "90",
                    "upper_price": "110",
                    "num_grids": 21,
                    "total_investment": "1000",
                },
            )
            self.infos.append(info)
            self.status[info.actor] = ActorStatus(
                name=info.actor,
                kind="strategy",
                state="running",
                pid=10_000 + i,
                uptime=0.0,
                last_heartbeat_age=0.1,
                status={
                    "grid": info.name,
                    "symbol": symbol,
                    "mode": "dry_run",
                    "state": "trading",
                    "stopped": False,
                    "open_orders": 20,
                    "completed_cycles": 0,
                    "realized_profit": "0",
                    "last_tick_age_s": 0.1,
                },
            )

    def beat(self, rng: random.Random) -> None:
        for name, actor in self.status.items():
            s = dict(actor.status)
            s["last_tick_age_s"] = round(rng.random(), 3)
            if rng.random() < 0.05:
                s["completed_cycles"] = int(s["completed_cycles"] or 0) + 1  # type: ignore[call-overload]
                s["realized_profit"] = str(Decimal(str(s["realized_profit"])) + Decimal("0.137"))
            self.status[name] = msgspec.structs.replace(
                actor,
                uptime=(actor.uptime or 0) + 1,
                last_heartbeat_age=round(rng.random(), 3),
                status=s,
            )

    def supervisor(self) -> dict[str, Any]:
        return {"pid": 1, "state": "running", "uptime": 1.0}

    def actors(self) -> Sequence[ActorStatus]:
        return list(self.status.values())

    def grids(self) -> Sequence[GridInfo]:
        return self.infos

    def paused(self) -> frozenset[str]:
        return frozenset()


def serve(port: int, grids: int) -> None:
    """The child process: the dashboard on ``port`` over a changing fake fleet."""
    asyncio.run(_serve(port, grids))


async def _serve(port: int, grids: int) -> None:
    from aiohttp import web

    from gridsup.web.app import Dashboard, make_app
    from gridsup.web.settings import WebSettings
    from gridsup.web.ticks import TickBuffer

    source = BenchSource(grids)
    prices = TickBuffer()
    prices.latest.update({s: Decimal(100) for s in SYMBOLS})
    dash = Dashboard(source, prices)  # type: ignore[arg-type]
    runner = web.AppRunner(make_app(dash, WebSettings("127.0.0.1", port)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rng = random.Random(7)
    while True:
        await asyncio.sleep(1.0)
        source.beat(rng)
        for s in SYMBOLS:
            prices.latest[s] = (prices.latest[s] * Decimal(1 + rng.gauss(0, 0.002))).quantize(
                Decimal("0.01")
            )


def cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def busy(proc: psutil.Process, seconds: float) -> float:
    """Percent of one core ``proc`` used over the next ``seconds``."""
    c0, w0 = cpu(proc), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu(proc) - c0) / (time.monotonic() - w0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=200)
    parser.add_argument("--watch", type=float, default=20.0, help="seconds of each CPU phase")
    parser.add_argument("--runs", type=int, default=5, help="page loads (median)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    child = multiprocessing.get_context("spawn").Process(target=serve, args=(port, args.grids))
    child.start()
    proc = psutil.Process(child.pid)
    profile = tempfile.mkdtemp(prefix="gridsup-bench-chromium-")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the dashboard did not start") from None
                time.sleep(0.1)
        idle = busy(proc, args.watch)  # baseline: nobody watching

        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=FLAGS
            )
            page = ctx.new_page()
            floor, render, in_page = [], [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                page.goto(f"{base}/static/style.css")
                floor.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                page.goto(f"{base}/", wait_until="commit")
                page.wait_for_function(
                    f"document.querySelectorAll('#fleet tbody tr').length == {args.grids}",
                    polling="raf",
                    timeout=30_000,
                )
                render.append(time.perf_counter() - t0)
                in_page.append(page.evaluate("performance.now()") / 1000)
            updates0 = int(page.evaluate("document.body.dataset.updates || 0"))
            watching = busy(proc, args.watch)
            updates = int(page.evaluate("document.body.dataset.updates || 0")) - updates0
            ctx.close()
    finally:
        child.terminate()
        child.join(10)
        shutil.rmtree(profile, ignore_errors=True)

    med = statistics.median
    print(f"fleet page, {args.grids} grids, {args.runs} loads (median), one headless Chromium")
    print(f"  static asset (baseline)   {med(floor) * 1000:8.1f} ms")
    print(
        f"  first render, all rows    {med(render) * 1000:8.1f} ms"
        f"   ({med(render) / med(floor):.1f}x baseline; in-page {med(in_page) * 1000:.0f} ms)"
        f"   goal < 1000 ms: {'met' if med(render) < 1 else 'NOT met'}"
    )
    print(f"serving process CPU over {args.watch:g} s (% of one core)")
    print(f"  nobody watching (baseline) {idle:6.2f} %")
    print(
        f"  one page watching          {watching:6.2f} %   (+{watching - idle:.2f} points; "
        f"{updates} live updates received)   goal < 2 %: "
        f"{'met' if watching < 2 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
