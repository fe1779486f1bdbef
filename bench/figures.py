"""What the benches share to print their figures: a nearest-rank percentile and a line
of p50, p99 and max in milliseconds."""

from __future__ import annotations


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
