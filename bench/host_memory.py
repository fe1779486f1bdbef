"""What a page of new memory costs on this host: the floor under starting a thousand grids.

    .venv/bin/python bench/host_memory.py [--gib 8]

A forked actor pays for every page of the forkserver it writes to (a copy, "copy on
write") and for every page it allocates (zero-filled): about 1,900 pages per strategy
actor (7.5 MB of USS, docs/actors.md). Measured here, one GiB at a time while the
earlier ones stay allocated:

- first touch of each page of a fresh anonymous mapping, in microseconds per page, for
  the 1st, 2nd ... ``--gib``-th GiB in use (the baseline: the first GiB);
- a copy-on-write fault: a forked child writing once to each page of 256 MiB that its
  parent wrote before the fork, at the start and again with ``--gib`` GiB in use.

On a virtual machine whose host backs the guest's memory lazily (a balloon with free
page reporting returns freed pages to the host), a page beyond what the guest used
recently costs a fault on the host as well: the figures per GiB show where that begins.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time

PAGE = mmap.PAGESIZE
GIB = 1 << 30


def touch(size: int) -> tuple[mmap.mmap, float]:
    """A fresh private anonymous mapping of ``size`` bytes, every page written once;
    and the microseconds per page that took."""
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    began = time.perf_counter()
    for offset in range(0, size, PAGE):
        area[offset] = 1
    return area, (time.perf_counter() - began) / (size // PAGE) * 1e6


def cow_us_per_page(size: int = 256 << 20) -> float:
    """Microseconds per page for a forked child's first write to pages its parent wrote."""
    area, _ = touch(size)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        began = time.perf_counter()
        for offset in range(0, size, PAGE):
            area[offset] = 2
        os.write(write, f"{(time.perf_counter() - began) / (size // PAGE) * 1e6}".encode())
        os._exit(0)
    os.close(write)
    result = float(os.read(read, 64))
    os.waitpid(pid, 0)
    os.close(read)
    area.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=int, default=8)
    args = parser.parse_args()
    print(f"page {PAGE} B, {os.cpu_count()} cpus; the Python loop's own cost is included")
    cow_first = cow_us_per_page()
    held = []
    base = 0.0
    for n in range(1, args.gib + 1):
        area, us = touch(GIB)
        held.append(area)
        base = base or us
        print(f"first touch, GiB {n} in use: {us:6.2f} us per page ({us / base:4.1f}x the first)")
    cow_last = cow_us_per_page()
    print(f"copy on write, at the start: {cow_first:.2f} us per page")
    print(f"copy on write, {args.gib} GiB in use: {cow_last:.2f} us per page")
    for area in held:
        area.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
