"""Placements and cancels under way, by client id.

A placement or cancel books its own outcome when the exchange answers; whatever else
would touch the same order meanwhile (a re-sent request, a query, a poll, a stream
event) waits for it with :meth:`InFlight.settled`, or leaves the order to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class InFlight:
    """See the module docstring."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[None]] = {}

    def __contains__(self, cid: object) -> bool:
        return cid in self._futures

    def __len__(self) -> int:
        return len(self._futures)

    @contextmanager
    def holding(self, cid: str) -> Iterator[None]:
        """Mark ``cid`` under way for the ``with`` block; waiters resume at its end,
        however it ends. Needs a running event loop."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures[cid] = future
        try:
            yield
        finally:
            self._futures.pop(cid, None)
            future.set_result(None)

    async def settled(self, cid: str) -> None:
        """Wait until no placement or cancel of ``cid`` is in flight (a waiter that is
        cancelled does not cancel the work it waited for)."""
        while (future := self._futures.get(cid)) is not None:
            await asyncio.shield(future)
