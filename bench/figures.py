"""What the benches share to take and print their figures: the median wall time of a
piece of work, a nearest-rank percentile and a line of p50, p99 and max in
milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_s(runs: int, work: Callable[[], object]) -> float:
    """Median wall time of ``runs`` calls of ``work``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank; ``values`` not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms_line(label: str, values: list[float], width: int = 42) -> str:
    """``label`` (padded to ``width``), then p50, p99 and max of ``values`` (seconds) in ms."""
    ms = [v * 1000 for v in values]
    return (
        f"{label:<{width}} p50 {pct(ms, 0.5):7.1f} ms   p99 {pct(ms, 0.99):7.1f} ms   "
        f"max {max(ms):7.1f} ms   (n={len(ms)})"
    )
