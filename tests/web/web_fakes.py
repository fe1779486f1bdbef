"""Hand-written fakes at the dashboard's seams: a fleet source and the supervisor's act."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gridsup.messages.control import (
    ActorStatus,
    GridAction,
    GridActionKind,
    GridActionOutcome,
    GridActionReply,
)
from gridsup.web.fleet import GridInfo, grid_info


def fake_grid(i: int, symbol: str = "BTC/USDT") -> GridInfo:
    return grid_info(
        f"g{i:03d}",
        f"grid-g{i:03d}",
        symbol,
        {
            "name": f"g{i:03d}",
            "symbol": symbol,
            "lower_price": "50000",
            "upper_price": "70000",
            "num_grids": 21,
            "total_investment": "1000",
        },
    )


def fake_actor(info: GridInfo, **status: Any) -> ActorStatus:
    base: dict[str, Any] = {
        "grid": info.name,
        "symbol": info.symbol,
        "mode": "dry_run",
        "state": "trading",
        "stopped": False,
        "open_orders": 20,
        "completed_cycles": 3,
        "realized_profit": "1.5",
        "last_tick_age_s": 0.5,
    }
    base.update(status)
    return ActorStatus(
        name=info.actor,
        kind="strategy",
        state="running",
        pid=1000,
        uptime=10.0,
        last_heartbeat_age=0.2,
        status=base,
    )


@dataclass
class FakeSource:
    """A fleet of ``n`` grids; tests change ``status`` and ``paused_grids`` directly."""

    n: int = 3
    infos: list[GridInfo] = field(default_factory=list)
    status: dict[str, ActorStatus] = field(default_factory=dict)
    paused_grids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.infos = [fake_grid(i) for i in range(self.n)]
        self.status = {g.actor: fake_actor(g) for g in self.infos}

    def supervisor(self) -> dict[str, Any]:
        return {"pid": 1, "state": "running", "uptime": 1.0}

    def actors(self) -> Sequence[ActorStatus]:
        return list(self.status.values())

    def grids(self) -> Sequence[GridInfo]:
        return self.infos

    def paused(self) -> frozenset[str]:
        return frozenset(self.paused_grids)


@dataclass
class FakePrices:
    latest: dict[str, Decimal] = field(default_factory=lambda: {"BTC/USDT": Decimal(60000)})

    def series(self, symbol: str) -> list[tuple[int, float]]:
        return [(1, 60000.0)]


@dataclass
class FakeAct:
    """Answers as the supervisor would for grids it knows; records every request."""

    known: set[str]
    refuse: set[str] = field(default_factory=set)
    asked: list[GridAction] = field(default_factory=list)

    async def __call__(self, request: GridAction) -> GridActionReply:
        self.asked.append(request)
        if request.grid not in self.known:
            outcome = GridActionOutcome.UNKNOWN_GRID
        elif request.grid in self.refuse:
            outcome = GridActionOutcome.REFUSED
        else:
            outcome = GridActionOutcome.DONE
        return GridActionReply(
            action=request.action, grid=request.grid, outcome=outcome, detail=outcome.value
        )


PAUSE = GridActionKind.PAUSE
