"""The audit log of grid actions: every :class:`~gridsup.messages.control.GridAction`
that reaches the supervisor (from ``gridsup pause|resume|stop-grid`` or the dashboard)
becomes one ``audit_log`` row with who asked, what, for which grid and the outcome.

An extension, so that it lives in the supervisor's loop: rows are written in the
background, in order, and a database that does not answer costs a warning, never an
action (the action's own log line, ``grid_action_answered``, is always written).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from gridsup.messages.control import GridAction, GridActionReply

if TYPE_CHECKING:
    from gridsup.supervisor.extensions import SupervisorView

log = structlog.get_logger("gridsup.supervisor")


class AuditLog:
    """Write grid actions to the database at ``db_url``."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._db: Any = None
        self._queue: asyncio.Queue[tuple[GridAction, GridActionReply]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    async def start(self, supervisor: SupervisorView) -> None:
        if supervisor.grid_actions is None:
            return
        self._queue = asyncio.Queue()  # bound to this loop
        supervisor.grid_actions.listeners.append(self._enqueue)
        self._task = asyncio.get_running_loop().create_task(self._write())

    def _enqueue(self, request: GridAction, reply: GridActionReply) -> None:
        self._queue.put_nowait((request, reply))

    async def _write(self) -> None:
        while True:
            request, reply = await self._queue.get()
            try:
                # Imported at the first action: a supervisor never asked to act never
                # loads SQLAlchemy.
                from gridsup.store.dashboard import record_action
                from gridsup.store.database import Database

                if self._db is None:
                    db = Database(self.db_url, pool_size=1)
                    await db.connect()
                    self._db = db
                await record_action(
                    self._db,
                    actor=request.by,
                    action=request.action.value,
                    grid=request.grid,
                    outcome=reply.outcome.value,
                    detail=reply.detail,
                )
                self.written += 1
            except Exception as exc:
                log.warning(
                    "audit_not_written",
                    action=request.action.value,
                    grid=request.grid,
                    error=repr(exc),
                )
            finally:
                self._queue.task_done()

    async def stop(self) -> None:
        if self._task is not None:
            # What was asked is written before the database goes.
            try:
                async with asyncio.timeout(5):
                    await self._queue.join()
            except TimeoutError:
                log.warning("audit_not_flushed", pending=self._queue.qsize())
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._db is not None:
            await self._db.disconnect()
