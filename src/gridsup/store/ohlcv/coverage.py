"""Sets of half-open ms intervals [start, end): what the cache has asked the exchange
about. A gap the exchange itself has (no trading) is covered but holds no candle, so it
is not fetched again and again."""

from __future__ import annotations

Interval = tuple[int, int]


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted, non-overlapping, non-adjacent intervals covering the same points."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def missing(covered: list[Interval], start: int, end: int) -> list[Interval]:
    """Parts of [start, end) not in ``covered`` (which must be merged)."""
    gaps: list[Interval] = []
    cursor = start
    for c_start, c_end in covered:
        if c_end <= cursor:
            continue
        if c_start >= end:
            break
        if c_start > cursor:
            gaps.append((cursor, c_start))
        cursor = max(cursor, c_end)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return gaps
