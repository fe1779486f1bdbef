"""A strategy actor that also reports which heavy packages its process has imported
(``heavy_modules`` in its status), so a test can check the real child's ``sys.modules``."""

from __future__ import annotations

import sys
from typing import Any

from gridsup.actors.grid.actor import StrategyActor
from gridsup.actors.run_config import RunConfig
from gridsup.messages.control import StatusValue

HEAVY = ("ccxt", "pandas", "sqlalchemy")


class ProbedStrategyActor(StrategyActor):
    def status(self) -> dict[str, StatusValue]:
        out = super().status()
        out["heavy_modules"] = ",".join(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY))
        return out


def build(
    run: RunConfig, grid_name: str, *, resync_idle_s: float | None = None, **_: Any
) -> ProbedStrategyActor:
    if resync_idle_s is None:
        return ProbedStrategyActor(run, grid_name)
    return ProbedStrategyActor(run, grid_name, resync_idle_s=resync_idle_s)
