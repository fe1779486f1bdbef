"""Run as a child process by test_locks: take a grid lock, say so, then wait to be killed."""

from __future__ import annotations

import asyncio
import sys

from gridsup.logging import configure_logging
from gridsup.store.locks import grid_lock


async def main(url: str, grid_id: str) -> None:
    configure_logging("WARNING")  # stdout carries our one-word answer only
    lock = grid_lock(url, grid_id)
    print("locked" if await lock.acquire() else "refused", flush=True)
    await asyncio.sleep(120)  # the parent kills us long before


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
