"""Grid leases: who runs each grid now, and the fencing epoch of that incarnation.

Every (re)start of a grid's strategy actor *claims* the grid: in one transaction the
grid's lease row gets ``epoch + 1`` and its owner, and the grid's stored state is stamped
with that epoch. From then on a save carrying a lower epoch (a killed process's late
write, or a partitioned cluster member's) is refused by the state upsert
(:func:`gridsup.store.state.upsert_states`), however late it arrives. The claim is made
while the actor holds the grid's lock (invariant 1), so two claims never race for one
live grid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.models import GridLease, StrategyState, utcnow
from gridsup.store.sql import insert_for


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """A grid's lease row as read back (``status --cluster``, tests)."""

    grid: str
    epoch: int
    owner: str
    host: str
    acquired_at: dt.datetime
    renewed_at: dt.datetime


async def claim(session: AsyncSession, grid: str, owner: str, host: str) -> int:
    """Make ``owner`` the grid's lessee with a new epoch; the epoch.

    Also stamps the grid's stored state (if any) with the new epoch, so that a save of an
    older incarnation is refused even before this incarnation saves anything.
    """
    now = utcnow()
    stmt = insert_for(session, GridLease.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["grid"],
        set_={
            "epoch": GridLease.epoch + 1,
            "owner": stmt.excluded.owner,
            "host": stmt.excluded.host,
            "acquired_at": stmt.excluded.acquired_at,
            "renewed_at": stmt.excluded.renewed_at,
        },
    ).returning(GridLease.epoch)
    row = {"grid": grid, "epoch": 1, "owner": owner, "host": host}
    epoch = int(
        (await session.execute(stmt, [{**row, "acquired_at": now, "renewed_at": now}]))
        .scalars()
        .one()
    )
    await session.execute(
        update(StrategyState).where(StrategyState.strategy == grid).values(epoch=epoch)
    )
    return epoch


async def renew(session: AsyncSession, owner: str, grids: Sequence[str]) -> int:
    """Mark ``owner``'s leases of ``grids`` as renewed now, on the database's clock (as
    the members' heartbeats, so ``status --cluster`` compares like with like); how many
    rows it still owns."""
    if not grids:
        return 0
    result = await session.execute(
        update(GridLease)
        .where(GridLease.owner == owner, GridLease.grid.in_(list(grids)))
        .values(renewed_at=func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def leases(session: AsyncSession) -> list[Lease]:
    """Every grid's lease, by grid name."""
    rows = (await session.execute(select(GridLease).order_by(GridLease.grid))).scalars()
    return [
        Lease(
            grid=r.grid,
            epoch=r.epoch,
            owner=r.owner,
            host=r.host,
            acquired_at=r.acquired_at,
            renewed_at=r.renewed_at,
        )
        for r in rows
    ]


async def current_epoch(session: AsyncSession, grid: str) -> int:
    """The grid's epoch now (0: never claimed)."""
    stmt = select(GridLease.epoch).where(GridLease.grid == grid)
    return int((await session.execute(stmt)).scalar_one_or_none() or 0)
