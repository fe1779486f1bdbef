"""Cluster membership in the shared PostgreSQL: members' heartbeat rows, the pins of
``gridsup move``, and what ``gridsup status --cluster`` reads.

Liveness is judged by the database's clock (``now()``), never a member's, so that clock
skew between hosts cannot make a dead member look alive or a live one dead.
"""

from __future__ import annotations

import datetime as dt
import enum

import msgspec
from sqlalchemy import delete, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.models import ClusterMember, GridLease, GridPin, StrategyState
from gridsup.store.sql import insert_for

# A member counts as live while its last heartbeat is younger than this (it beats every
# second): the members' placement loop and ``gridsup status --cluster`` share it.
LIVENESS_TTL_S = 5.0


class MemberState(enum.Enum):
    """A member as the others see it."""

    LIVE = "live"  # beat within the liveness window
    LEAVING = "leaving"  # stopping gracefully: its grids are being handed over
    SILENT = "silent"  # no beat within the window: dead, cut off, or stopped hard


class Member(msgspec.Struct, frozen=True, kw_only=True):
    member: str
    host: str
    pid: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    leaving: bool
    live: bool  # heartbeat within the liveness window when read

    @property
    def state(self) -> MemberState:
        if self.leaving:
            return MemberState.LEAVING
        return MemberState.LIVE if self.live else MemberState.SILENT


async def heartbeat(session: AsyncSession, member: str, host: str, pid: int) -> None:
    """Upsert ``member``'s row with the database's time (a restart of the member under
    the same name takes the row over, with its new pid)."""
    stmt = insert_for(session, ClusterMember.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["member"],
        set_={
            "host": stmt.excluded.host,
            "pid": stmt.excluded.pid,
            "heartbeat_at": func.now(),
            "leaving": False,
        },
    )
    await session.execute(
        stmt,
        [
            {
                "member": member,
                "host": host,
                "pid": pid,
                "started_at": dt.datetime.now(dt.UTC),
                "heartbeat_at": dt.datetime.now(dt.UTC),
                "leaving": False,
            }
        ],
    )
    # The insert's values are this host's clock; the database's wins from now on.
    await session.execute(
        update(ClusterMember).where(ClusterMember.member == member).values(heartbeat_at=func.now())
    )


async def leave(session: AsyncSession, member: str) -> None:
    """A graceful stop: the others stop counting ``member`` at once (no liveness wait)."""
    await session.execute(
        update(ClusterMember).where(ClusterMember.member == member).values(leaving=True)
    )


async def database_now(session: AsyncSession) -> dt.datetime:
    """The database's clock, the one every heartbeat and liveness test is read on."""
    now = (await session.execute(select(func.now()))).scalar_one()
    assert isinstance(now, dt.datetime)
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


async def members(session: AsyncSession, ttl_s: float = LIVENESS_TTL_S) -> list[Member]:
    """Every member ever seen, ``live`` when it beat within ``ttl_s`` and is not leaving."""
    window = func.now() - dt.timedelta(seconds=ttl_s)
    live = (ClusterMember.heartbeat_at > window) & ~ClusterMember.leaving
    stmt = select(ClusterMember, live.label("live")).order_by(ClusterMember.member)
    return [
        Member(
            member=row.member,
            host=row.host,
            pid=row.pid,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            leaving=row.leaving,
            live=bool(is_live),
        )
        for row, is_live in (await session.execute(stmt)).all()
    ]


async def live_members(session: AsyncSession, ttl_s: float = LIVENESS_TTL_S) -> list[str]:
    return [m.member for m in await members(session, ttl_s) if m.live]


async def pins(session: AsyncSession) -> dict[str, str]:
    """grid -> member of every ``gridsup move``."""
    rows = (await session.execute(select(GridPin.grid, GridPin.member))).all()
    return {str(grid): str(member) for grid, member in rows}


async def pin(session: AsyncSession, grid: str, member: str) -> None:
    """Run ``grid`` on ``member`` while it is live (replaces an earlier pin)."""
    stmt = insert_for(session, GridPin.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["grid"], set_={"member": stmt.excluded.member, "pinned_at": func.now()}
    )
    await session.execute(
        stmt, [{"grid": grid, "member": member, "pinned_at": dt.datetime.now(dt.UTC)}]
    )


async def unpin(session: AsyncSession, grid: str) -> bool:
    result = await session.execute(delete(GridPin).where(GridPin.grid == grid))
    return bool(getattr(result, "rowcount", 0))


async def known_grids(session: AsyncSession) -> set[str]:
    """Every grid this database has seen run: leased by a member, or with a stored state
    (a grid that ran on a single host before the cluster)."""
    stmt = union(select(GridLease.grid), select(StrategyState.strategy))
    return {str(grid) for grid in (await session.execute(stmt)).scalars()}
