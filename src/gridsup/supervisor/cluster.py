"""A cluster member's placement loop (``gridsup start --cluster``).

Several supervisors on several hosts run the same grids file against one PostgreSQL.
Each second every member writes its heartbeat row, reads the live members and the pins,
and computes the same rendezvous placement (:mod:`gridsup.supervisor.placement`); it then
starts the strategy actors of the grids placed on it and retires (stops without
cancelling) those placed elsewhere. Nothing here decides who *may* trade: a grid's
strategy actor trades only while it holds the grid's advisory lock and its lease epoch
(invariants 1 and 4); placement only decides where the next copy is started. A copy
started while the previous owner still holds the lock exits ``EXIT_LOCKED`` and is
started again until the lock is free, so a handover never runs two copies.

A member that dies stops heartbeating: after ``ttl_s`` the others no longer count it,
and its grids, whose locks died with its database sessions, are adopted and reconciled
by their new owners. A graceful stop marks the member as leaving first, so its grids
move at once.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping

import structlog

from gridsup.store import cluster, leases
from gridsup.store.database import Database
from gridsup.store.errors import StoreError
from gridsup.supervisor.placement import assign
from gridsup.supervisor.spec import ChildSpec
from gridsup.supervisor.states import TERMINAL_STATES, SupervisorState
from gridsup.supervisor.supervision import Supervision

log = structlog.get_logger("gridsup.supervisor.cluster")


class ClusterMember:
    """One member's heartbeat and placement loop; ``grids`` maps each grid's name to
    its strategy actor's spec and ``grid_ids`` to its id (the lease key)."""

    def __init__(
        self,
        db_url: str,
        member: str,
        grids: Mapping[str, ChildSpec],
        grid_ids: Mapping[str, str],
        *,
        schema: str | None = None,
        period_s: float = 1.0,
        ttl_s: float = cluster.LIVENESS_TTL_S,
        idle_in_transaction_s: float = 10.0,
    ) -> None:
        # Cut off mid-transaction, this member's renewals must not hold its lease rows
        # against the member adopting its grids.
        self.db = Database(db_url, schema=schema, idle_in_transaction_s=idle_in_transaction_s)
        self.member = member
        self.grids = dict(grids)
        self.grid_ids = dict(grid_ids)
        self.period_s, self.ttl_s = period_s, ttl_s
        self.host = socket.gethostname()
        self.live: list[str] = []
        self.owned: list[str] = []
        self.passes = 0
        self.failures = 0

    def __repr__(self) -> str:
        return (
            f"<ClusterMember {self.member} live={len(self.live)} owned={len(self.owned)} "
            f"passes={self.passes} failures={self.failures}>"
        )

    async def run(self, sup: Supervision) -> None:
        """Beat and place until the supervisor stops; then leave the cluster."""
        await self.db.connect()
        try:
            while sup.state is not SupervisorState.STOPPED:
                if sup.state is SupervisorState.STOPPING:
                    break
                # Join (beat) only once the supervisor runs: its execution and market
                # data actors are up, so a grid handed to it starts at once instead of
                # waiting idle, taken from a member that was trading it.
                if sup.state is SupervisorState.RUNNING:
                    try:
                        await asyncio.wait_for(self.step(sup), timeout=self.ttl_s)
                    except TimeoutError:
                        # A database that stopped answering (a partition): as a failure.
                        self.failures += 1
                        log.warning("cluster_heartbeat_timed_out", member=self.member)
                await asyncio.sleep(self.period_s)
        finally:
            await self._leave()
            await self.db.disconnect()

    async def step(self, sup: Supervision) -> None:
        """One pass: heartbeat, placement, and the children made to match it."""
        try:
            async with self.db.session() as session:
                await cluster.heartbeat(session, self.member, self.host, os.getpid())
                live = await cluster.live_members(session, self.ttl_s)
                pinned = await cluster.pins(session)
                if self.member not in live:
                    live.append(self.member)  # our own beat is what we just wrote
                placed = assign(self.grids, live, pinned)
                running = [self.grid_ids[g] for g in self.owned]
                await leases.renew(session, self.member, running)
        except StoreError as exc:
            # The database is away: keep what runs (each grid stops by itself when its
            # lock's session dies), place nothing new.
            self.failures += 1
            log.warning("cluster_heartbeat_failed", member=self.member, error=str(exc))
            return
        self.passes += 1
        if live != self.live:
            log.info("cluster_members_changed", member=self.member, live=sorted(live))
        self.live = live
        self.owned = sorted(g for g, m in placed.items() if m == self.member)
        self.apply(sup, set(self.owned))

    def apply(self, sup: Supervision, wanted: set[str]) -> None:
        """Start what is placed here and not running (or ended), retire the rest."""
        if sup.state is not SupervisorState.RUNNING:
            return
        by_name = {spec.name: grid for grid, spec in self.grids.items()}
        for name, running in list(sup.children.items()):
            grid = by_name.get(name)
            if grid is not None and grid not in wanted and running.state not in TERMINAL_STATES:
                log.info("grid_handed_over", grid=grid, member=self.member)
                sup.retire(name)
        for grid in sorted(wanted):
            spec = self.grids[grid]
            child = sup.children.get(spec.name)
            ended = child is None or child.state in TERMINAL_STATES
            if ended and sup.add(spec):
                log.info("grid_adopted", grid=grid, member=self.member)

    async def _leave(self) -> None:
        try:
            async with self.db.session() as session:
                await cluster.leave(session, self.member)
            log.info("cluster_left", member=self.member)
        except StoreError as exc:
            log.warning("cluster_leave_failed", member=self.member, error=str(exc))
