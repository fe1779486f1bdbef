"""How many light actors fit, and how fast they start: time to all-Ready and memory
per actor (USS and RSS via psutil) for 100 and 300 actors, per start method.

    .venv/bin/python bench/density.py [--counts 100 300] [--methods forkserver spawn fork]

Every run goes through the real Supervisor (start in order, Ready handshake, heartbeats,
graceful stop). Variants: the bare runtime actor ("light"), an actor that also imports
gridsup.strategy (which brings pydantic), and the same with gridsup.strategy preloaded
in the forkserver. Targets: 100 actors Ready in <= 2 s; <= 10 MB USS per actor.

Keep this module's top level light: children import it to find their actor class.
"""

from __future__ import annotations

import sys

from gridsup.runtime.actor import Actor


class Idle(Actor):
    """A light actor: heartbeats and nothing else."""


class StrategyHost(Actor):
    """What a strategy actor process imports before its first tick."""

    async def on_start(self) -> None:
        import gridsup.strategy.grid.config  # noqa: F401  (pydantic models of a grid)


def _measure(method: str, count: int, target: str, preload: tuple[str, ...]) -> dict[str, float]:
    import asyncio
    import shutil
    import statistics
    import tempfile
    import time
    from pathlib import Path

    import psutil

    from gridsup.logging import configure_logging
    from gridsup.supervisor.runner import Supervisor
    from gridsup.supervisor.spec import ChildSpec, Group, Policy
    from gridsup.supervisor.states import SupervisorState

    configure_logging("WARNING")
    policy = Policy(
        ready_timeout=120.0, heartbeat_interval=1.0, heartbeat_liveness=30, stop_timeout=60.0
    )
    specs = [
        ChildSpec(name=f"a{i}", kind="strategy", target=target, group=Group.STRATEGY, policy=policy)
        for i in range(count)
    ]
    base = Path(tempfile.mkdtemp(prefix="gsd-", dir="/tmp"))
    sup = Supervisor(specs, base=base, start_method=method, preload=preload, log_level="WARNING")
    out: dict[str, float] = {}

    async def watch(t0: float) -> None:
        while sup.supervision is None or sup.supervision.state is SupervisorState.STARTING:
            await asyncio.sleep(0.005)
        out["ready_s"] = time.monotonic() - t0
        await asyncio.sleep(1.0)  # let every actor settle (first heartbeats, allocations)
        uss, rss = [], []
        for child in sup.supervision.children.values():
            if child.pid is None:
                continue
            info = psutil.Process(child.pid).memory_full_info()
            uss.append(info.uss / 2**20)
            rss.append(info.rss / 2**20)
        out.update(
            running=len(uss),
            uss_mb=statistics.mean(uss),
            rss_mb=statistics.mean(rss),
            total_uss_mb=sum(uss),
        )
        t1 = time.monotonic()
        sup.supervision.stop()
        while not sup.supervision.done:
            await asyncio.sleep(0.005)
        out["stop_s"] = time.monotonic() - t1

    async def run() -> None:
        # The clock starts before the supervisor does: its first spawns run synchronously.
        task = asyncio.get_running_loop().create_task(watch(time.monotonic()))
        await sup.run()
        await task

    try:
        asyncio.run(run())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "light": ("density:Idle", ()),
    "strategy": ("density:StrategyHost", ()),
    "strategy-preloaded": ("density:StrategyHost", ("gridsup.strategy.grid.config",)),
}


def main() -> None:
    import argparse
    import json
    import os
    import subprocess

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--methods", nargs="+", default=["forkserver", "spawn", "fork"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument(
        "--one", nargs=3, metavar=("METHOD", "VARIANT", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        # One measurement per interpreter: a forkserver is started once per process and
        # keeps the preload list it started with.
        method, variant, count = args.one
        target, preload = VARIANTS[variant]
        print(json.dumps(_measure(method, int(count), target, preload)))
        return
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {load}", flush=True
    )
    print(
        f"{'method':<11} {'variant':<19} {'actors':>6} {'ready s':>8} {'USS MB':>7} "
        f"{'RSS MB':>7} {'total USS MB':>12} {'stop s':>7}",
        flush=True,
    )
    for method in args.methods:
        for variant in args.variants:
            if VARIANTS[variant][1] and method != "forkserver":
                continue  # preloading only means something for a forkserver
            for count in args.counts:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", method, variant, str(count)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    print(f"{method:<11} {variant:<19} {count:>6} failed: {done.stderr[-300:]}")
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                short = "" if row["running"] == count else f"  (only {row['running']:.0f} running!)"
                print(
                    f"{method:<11} {variant:<19} {count:>6} {row['ready_s']:>8.2f} "
                    f"{row['uss_mb']:>7.1f} {row['rss_mb']:>7.1f} {row['total_uss_mb']:>12.0f} "
                    f"{row['stop_s']:>7.2f}{short}",
                    flush=True,
                )
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end {load}")


if __name__ == "__main__":
    main()
