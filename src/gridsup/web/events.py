"""Live updates over server-sent events: one producer, any number of watchers.

While at least one page watches, the hub builds the fleet's rows once per interval and
sends each watcher only the rows that changed (a new watcher first gets them all), as
one ``fleet`` event of JSON. Nobody watching: no work at all. A watcher that cannot keep
up loses intermediate updates, never the latest (its queue holds a few).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("gridsup.web")

_QUEUE = 4
KEEPALIVE_S = 15.0


class EventHub:
    """``build`` returns ``(rows, totals)``; rows are keyed by ``grid``."""

    def __init__(
        self,
        build: Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]],
        interval: float = 1.0,
    ) -> None:
        self.build = build
        self.interval = interval
        self.watchers: set[asyncio.Queue[bytes]] = set()
        self.last: dict[str, dict[str, Any]] = {}
        self.updates_sent = 0
        self._task: asyncio.Task[None] | None = None
        self._new: set[asyncio.Queue[bytes]] = set()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._produce())

    async def _produce(self) -> None:
        while self.watchers:
            await asyncio.sleep(self.interval)
            try:
                self._publish()
            except Exception as exc:  # a bad row must not end live updates for everyone
                log.error("fleet_update_failed", error=repr(exc))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _publish(self) -> None:
        rows, totals = self.build()
        current = {r["grid"]: r for r in rows}
        changed = [r for g, r in current.items() if self.last.get(g) != r]
        removed = [g for g in self.last if g not in current]
        self.last = current
        if changed or removed:
            self._send(self.watchers - self._new, _event(changed, removed, totals, full=False))
        if self._new:
            self._send(self._new, _event(rows, [], totals, full=True))
            self._new.clear()

    def _send(self, queues: set[asyncio.Queue[bytes]], frame: bytes) -> None:
        for queue in queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # drop the oldest: the latest matters
            queue.put_nowait(frame)
            self.updates_sent += 1

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """The ``/api/events`` handler: ``fleet`` events until the page goes away."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE)
        self.watchers.add(queue)
        self._new.add(queue)
        # The newcomer's first event now, not at the next interval: everyone's diffs are
        # taken at the same moment, so they stay consistent with the hub's last rows.
        self._publish()
        self._ensure_running()
        try:
            await response.write(b"retry: 2000\n\n")
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        frame = await queue.get()
                except TimeoutError:
                    frame = b": keepalive\n\n"
                await response.write(frame)
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self.watchers.discard(queue)
            self._new.discard(queue)
        return response


def _event(
    rows: list[dict[str, Any]], removed: list[str], totals: dict[str, Any], *, full: bool
) -> bytes:
    data = json.dumps({"full": full, "rows": rows, "removed": removed, "totals": totals})
    return b"event: fleet\ndata: " + data.encode() + b"\n\n"
