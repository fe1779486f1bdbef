"""A cluster member's placement loop against a real PostgreSQL database, with a
hand-written supervision in place of the real one: it joins only once its supervisor
runs, starts what is placed on it, hands over what a pin sends elsewhere, and leaves on
a stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gridsup.store import cluster
from gridsup.store.database import Database
from gridsup.supervisor.cluster import ClusterMember
from gridsup.supervisor.spec import ChildSpec
from gridsup.supervisor.states import SupervisorState

pytestmark = pytest.mark.postgres


class FakeSupervision:
    """What the placement loop uses of ``Supervision``: its state, children, add, retire."""

    def __init__(self) -> None:
        self.state = SupervisorState.STARTING
        self.children: dict[str, Any] = {}
        self.added: list[str] = []
        self.retired: list[str] = []

    def add(self, spec: ChildSpec) -> bool:
        self.added.append(spec.name)
        self.children[spec.name] = type("Child", (), {"state": None})()
        return True

    def retire(self, name: str) -> bool:
        self.retired.append(name)
        return True


def spec(grid: str) -> ChildSpec:
    return ChildSpec(name=f"grid-{grid}", kind="strategy", target="gridsup.x:build")


async def read_members(url: str) -> dict[str, cluster.Member]:
    async with Database(url) as db, db.session() as session:
        return {m.member: m for m in await cluster.members(session)}


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_member_joins_once_its_supervisor_runs_and_follows_pins(
    cluster_url: str,
) -> None:
    member = ClusterMember(cluster_url, "alpha", {"g": spec("g")}, {"g": "g"}, period_s=0.05)
    sup = FakeSupervision()
    loop = asyncio.get_running_loop().create_task(member.run(sup))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.5)  # ten periods while the supervisor starts
        assert await read_members(cluster_url) == {}
        assert sup.added == []

        sup.state = SupervisorState.RUNNING

        async def joined() -> bool:
            return "alpha" in await read_members(cluster_url) and sup.added == ["grid-g"]

        await eventually(joined)

        # A pin to another live member: alpha hands the grid over (stops, no cancel).
        async with Database(cluster_url) as db, db.session() as session:
            await cluster.heartbeat(session, "beta", "host-b", 1)
            await cluster.pin(session, "g", "beta")

        async def handed_over() -> bool:
            return "grid-g" in sup.retired

        await eventually(handed_over)
    finally:
        sup.state = SupervisorState.STOPPING
        await asyncio.wait_for(loop, 10)
    assert (await read_members(cluster_url))["alpha"].leaving
