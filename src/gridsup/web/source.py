"""The real :class:`~gridsup.web.fleet.StatusSource`: the supervisor of this process,
read directly (the dashboard runs in its event loop; no control round trip)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gridsup.messages.control import ActorStatus
from gridsup.web.fleet import KIND_STRATEGY, GridInfo, grid_info

if TYPE_CHECKING:
    from gridsup.supervisor.extensions import SupervisorView


class SupervisorSource:
    """The fleet of ``supervisor``: its children's status and its grids' configs."""

    def __init__(self, supervisor: SupervisorView) -> None:
        self._sup = supervisor
        self._started = time.monotonic()
        self._grids = tuple(self._grid_infos())
        self.run_config: Any = next((spec.args[0] for spec in supervisor.specs if spec.args), None)

    def _grid_infos(self) -> list[GridInfo]:
        out = []
        for spec in self._sup.specs:
            if spec.kind != KIND_STRATEGY or not spec.args:
                continue
            name = str(spec.kwargs.get("grid_name", spec.name))
            run = spec.args[0]
            try:
                grid = run.grid(name)
            except (AttributeError, KeyError):
                continue  # not a grid actor of the usual shape (tests' fakes)
            out.append(grid_info(name, spec.name, grid.symbol, grid.config))
        return out

    def supervisor(self) -> dict[str, Any]:
        sup = self._sup.supervision
        return {
            "pid": os.getpid(),
            "state": None if sup is None else sup.state.value,
            "uptime": round(time.monotonic() - self._started, 3),
        }

    def actors(self) -> Sequence[ActorStatus]:
        sup = self._sup.supervision
        return () if sup is None else sup.status()

    def grids(self) -> Sequence[GridInfo]:
        return self._grids

    def paused(self) -> frozenset[str]:
        actions = self._sup.grid_actions
        return frozenset() if actions is None else frozenset(actions.paused)
