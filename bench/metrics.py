"""What the Prometheus endpoint costs the supervisor: scrape time and supervisor CPU with
100 grids, against the supervisor's own CPU with nobody scraping, in the same run.

    .venv/bin/python bench/metrics.py [--grids 100] [--seconds 20]

The real Supervisor runs here with ``--grids`` real actor processes (forkserver) that
heartbeat every second with a grid's full status (the fields a strategy actor reports),
plus the real MetricsServer. Phase 1 measures the supervisor's event-loop thread CPU with
nobody scraping (the baseline: heartbeats, beats, supervision); phase 2 scrapes
``/metrics`` once a second over real HTTP from another thread and measures the same
thread again. Goals: a scrape < 100 ms; < 1 % of a core at a 15 s scrape interval.

Keep this module's top level light: children import it to find their actor class.
"""

from __future__ import annotations

from gridsup.messages.control import StatusValue
from gridsup.runtime.actor import Actor


class GridLike(Actor):
    """An actor whose heartbeat carries a grid's status, as a strategy actor's does."""

    def status(self) -> dict[str, StatusValue]:
        n = self.name.removeprefix("grid-")
        return {
            "grid": n,
            "symbol": "BTC/USDT",
            "mode": "dry_run",
            "state": "trading",
            "phase": "running",
            "stopped": False,
            "open_orders": 24,
            "completed_cycles": 1234,
            "realized_profit": "1234.5678901234",
            "fills": 2500,
            "fees_paid": "12.3456789",
            "base_held": "0.06506",
            "quote_in_orders": "5195.2494417",
            "stop_reason": None,
            "skipped_levels": 0,
            "ticks": "off",
            "last_tick_age_s": 0.25,
            "state_version": 4000,
            "events_queued": 0,
            "events_handled": 5000,
            "resyncs": 0,
            "order_seq": 5000,
            "trades_recorded": 1234,
            "trades_pending": 0,
            "requests_pending": 0,
            "requests_resent": 0,
            "orders_retried": 0,
            "recon_orphans": 0,
            "recon_unadopted": 0,
            "recon_phantoms_filled": 1,
            "recon_phantoms_cancelled": 0,
            "recon_phantoms_rejected": 0,
            "recon_replaced": 0,
            "recon_dropped": 0,
            "recon_resent": 0,
            "recon_unsent": 0,
            "recon_foreign": 0,
            "recon_fills_applied": 1,
            "recon_mismatches": 0,
            "recon_aborted": False,
        }


def _thread_cpu(native_id: int) -> float:
    import psutil

    for t in psutil.Process().threads():
        if t.id == native_id:
            return float(t.user_time + t.system_time)
    raise LookupError(native_id)


def main() -> None:
    import argparse
    import asyncio
    import shutil
    import socket
    import statistics
    import tempfile
    import threading
    import time
    import urllib.request
    from pathlib import Path

    from gridsup.logging import configure_logging
    from gridsup.supervisor.alert_rules import AlertLimits, AlertRules, AlertsExtension
    from gridsup.supervisor.alerts import AlertCenter
    from gridsup.supervisor.metrics.server import MetricsServer
    from gridsup.supervisor.runner import Supervisor
    from gridsup.supervisor.spec import ChildSpec, Group, Policy
    from gridsup.supervisor.states import SupervisorState

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    configure_logging("WARNING")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    policy = Policy(
        ready_timeout=120.0, heartbeat_interval=1.0, heartbeat_liveness=30, stop_timeout=60.0
    )
    specs = [
        ChildSpec(
            name=f"grid-g{i}",
            kind="strategy",
            target="metrics:GridLike",
            group=Group.STRATEGY,
            policy=policy,
        )
        for i in range(args.grids)
    ]
    base = Path(tempfile.mkdtemp(prefix="gsm-", dir="/tmp"))
    server = MetricsServer("127.0.0.1", port, "paper")
    sup = Supervisor(specs, base=base, log_level="WARNING", extensions=[server])
    url = f"http://127.0.0.1:{port}/metrics"
    figures: dict[str, float] = {}

    def scrape() -> tuple[float, int]:
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as answer:
            body = answer.read()
        return time.perf_counter() - began, len(body)

    async def measure() -> None:
        loop_thread = threading.get_native_id()
        while sup.supervision is None or sup.supervision.state is not SupervisorState.RUNNING:
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # every actor has heartbeated with its status
        # Phase 1: nobody scrapes.
        cpu0, t0 = _thread_cpu(loop_thread), time.monotonic()
        await asyncio.sleep(args.seconds)
        idle_cpu, idle_s = _thread_cpu(loop_thread) - cpu0, time.monotonic() - t0
        # Phase 2: a scrape a second.
        times: list[float] = []
        size = 0
        cpu0, t0 = _thread_cpu(loop_thread), time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            wall, size = await asyncio.to_thread(scrape)
            times.append(wall)
            await asyncio.sleep(max(0.0, 1.0 - wall))
        busy_cpu, busy_s = _thread_cpu(loop_thread) - cpu0, time.monotonic() - t0
        per_scrape = max(0.0, busy_cpu / busy_s - idle_cpu / idle_s) * busy_s / len(times)
        figures.update(
            baseline_pct=100 * idle_cpu / idle_s,
            scraped_pct=100 * busy_cpu / busy_s,
            per_scrape_ms=1000 * per_scrape,
            at_15s_pct=100 * per_scrape / 15,
            p50_ms=1000 * statistics.median(times),
            p99_ms=1000 * sorted(times)[max(0, int(len(times) * 0.99) - 1)],
            max_ms=1000 * max(times),
            collect_ms=1000 * (server.collector.last_duration_s if server.collector else 0),
            scrapes=len(times),
            bytes=size,
        )
        # The alert rules' pass (every 2 s in a real run), over the same statuses.
        assert sup.supervision is not None
        rules = AlertsExtension(AlertCenter(None), AlertRules(AlertLimits(), "paper"), None, base)
        began = time.thread_time()
        for i in range(50):
            rules.evaluate(sup.supervision.status(), time.monotonic() + i)
        per_pass = (time.thread_time() - began) / 50
        figures.update(alert_pass_ms=1000 * per_pass, alert_pct=100 * per_pass / 2.0)
        sup.supervision.stop()

    async def run() -> None:
        task = asyncio.get_running_loop().create_task(measure())
        await sup.run()
        await task

    try:
        asyncio.run(run())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    f = figures
    print(f"metrics endpoint, {args.grids} grids (+ status of each), {f['scrapes']:.0f} scrapes")
    print(f"  scrape wall time   p50 {f['p50_ms']:.1f} ms  p99 {f['p99_ms']:.1f} ms  "
          f"max {f['max_ms']:.1f} ms  ({f['bytes'] / 1024:.0f} KiB; goal < 100 ms)")  # fmt: skip
    print(f"  collect (in loop)  {f['collect_ms']:.1f} ms")
    print(f"  supervisor CPU     baseline (no scrapes) {f['baseline_pct']:.2f} % of a core; "
          f"scraped every 1 s {f['scraped_pct']:.2f} %")  # fmt: skip
    print(f"  per scrape         {f['per_scrape_ms']:.1f} ms of CPU -> at a 15 s interval "
          f"{f['at_15s_pct']:.3f} % of a core (goal < 1 %), "
          f"x{(f['baseline_pct'] + f['at_15s_pct']) / max(f['baseline_pct'], 1e-9):.2f} "
          "the baseline")  # fmt: skip
    print(f"  alert rules        {f['alert_pass_ms']:.2f} ms of CPU per pass, every 2 s: "
          f"{f['alert_pct']:.3f} % of a core")  # fmt: skip


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))  # children import "metrics:GridLike"
    main()
