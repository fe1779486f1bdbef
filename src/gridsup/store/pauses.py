"""Grid pauses: the grids paused on request, kept until they are resumed.

``gridsup pause GRID`` (or the dashboard) makes the supervisor write the grid's row here
before it tells the grid's actor; ``gridsup resume GRID`` deletes it first. A strategy
actor that starts reads its grid's row in the reply to its state load
(:class:`~gridsup.messages.store.StateLoaded`, ``paused``), so a paused grid starts
paused -- after a crash of its actor, a restart of the supervisor, or on another cluster
member -- and sends no order before it is resumed. Rows are keyed by grid id (the id the
actor loads its state by; ``gridsup`` gives a grid its name as id).
"""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.models import GridPause, utcnow
from gridsup.store.sql import insert_for


class PauseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A paused grid as read back."""

    grid: str
    paused_at: dt.datetime
    paused_by: str
    reason: str


async def pause(session: AsyncSession, grid: str, by: str, reason: str = "") -> bool:
    """Record ``grid`` as paused by ``by``; False when it was paused already (the first
    pause's row is kept).

    Raises:
        RecordRefused: a value did not fit (through :meth:`Database.session`).
    """
    stmt = (
        insert_for(session, GridPause.__table__)
        .values(grid=grid, paused_at=utcnow(), paused_by=by[:64], reason=reason)
        .on_conflict_do_nothing(index_elements=["grid"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def resume(session: AsyncSession, grid: str) -> bool:
    """Forget ``grid``'s pause; False when it was not paused."""
    result = await session.execute(delete(GridPause).where(GridPause.grid == grid))
    return bool(getattr(result, "rowcount", 0))


async def is_paused(session: AsyncSession, grid: str) -> bool:
    stmt = select(GridPause.grid).where(GridPause.grid == grid)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def paused_grids(session: AsyncSession) -> list[PauseRecord]:
    """Every paused grid, by grid id."""
    rows = (await session.execute(select(GridPause).order_by(GridPause.grid))).scalars()
    return [
        PauseRecord(grid=r.grid, paused_at=r.paused_at, paused_by=r.paused_by, reason=r.reason)
        for r in rows
    ]
