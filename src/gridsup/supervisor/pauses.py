"""Grid pauses kept in the database, so that a paused grid stays paused across restarts
of its actor and of the supervisor until it is resumed.

An extension, started before any child: it loads the grids of this run that are paused
into :attr:`GridActions.paused` (``gridsup status`` and the dashboard show them paused,
and their actors are paused again once Ready) and becomes the actions'
:class:`~gridsup.supervisor.grid_actions.PauseJournal`, writing every pause and resume
(``store/pauses.py``) before the actor hears of it. The actors themselves read their
grid's pause with their state (the persistence actor answers it), so a paused grid
starts paused whatever the supervisor knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from gridsup.supervisor.extensions import SupervisorView

log = structlog.get_logger("gridsup.supervisor")


class GridPauses:
    """The pauses of grids ``grid_ids`` (grid name -> grid id) in the database at
    ``db_url`` (``schema``: a PostgreSQL schema, for tests)."""

    def __init__(
        self, db_url: str, grid_ids: Mapping[str, str], *, schema: str | None = None
    ) -> None:
        self.db_url = db_url
        self.schema = schema
        self.grid_ids = dict(grid_ids)
        self._db: Any = None
        self.loaded: frozenset[str] = frozenset()  # grid names paused at the start

    async def start(self, supervisor: SupervisorView) -> None:
        """Load the paused grids and take over the actions' pause journal.

        Raises:
            OSError: the database did not answer (the start fails, exit 1: a paused grid
                must not be shown as trading).
        """
        from gridsup.store import pauses
        from gridsup.store.database import Database
        from gridsup.store.errors import StoreError

        db = Database(self.db_url, schema=self.schema, pool_size=1)
        self._db = db
        try:
            await db.connect()
            async with db.session() as session:
                rows = await pauses.paused_grids(session)
        except StoreError as exc:
            await self.stop()  # not called by the supervisor after a failed start
            raise OSError(f"grid pauses not loaded: {exc}") from exc
        paused_ids = {r.grid for r in rows}
        self.loaded = frozenset(n for n, gid in self.grid_ids.items() if gid in paused_ids)
        if self.loaded:
            log.info("grid_pauses_loaded", grids=sorted(self.loaded))
        actions = supervisor.grid_actions
        if actions is not None:
            actions.paused |= self.loaded
            actions.journal = self

    def _id(self, grid: str) -> str:
        return self.grid_ids.get(grid, grid)

    async def paused(self, grid: str, by: str, reason: str) -> None:
        from gridsup.store import pauses

        async with self._db.session() as session:
            await pauses.pause(session, self._id(grid), by, reason)

    async def resumed(self, grid: str) -> None:
        from gridsup.store import pauses

        async with self._db.session() as session:
            await pauses.resume(session, self._id(grid))

    async def stop(self) -> None:
        if self._db is not None:
            await self._db.disconnect()
            self._db = None
