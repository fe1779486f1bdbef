"""The grid strategy: a spot grid that keeps one order in every slot.

``strategy`` decides (:class:`GridTradingStrategy`); ``book`` holds the state (``view``
reads it, ``invariant`` checks it), ``entry`` opens the grid on its first price,
``counter`` answers a closed slot order, ``orders`` places orders, ``config`` is its
validated settings and ``state`` what it saves. The strategy's public names are here.
"""

from gridsup.strategy.grid.state import (
    AdoptOutcome,
    CycleRecord,
    OrderRole,
    Phase,
    SkippedLevel,
    StopReason,
)
from gridsup.strategy.grid.strategy import GridTradingStrategy

__all__ = [
    "AdoptOutcome",
    "CycleRecord",
    "GridTradingStrategy",
    "OrderRole",
    "Phase",
    "SkippedLevel",
    "StopReason",
]
