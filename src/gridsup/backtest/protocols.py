"""What the backtest engine asks of a strategy, beyond the ``Strategy`` Protocol (a
leaf module: the engine drives it and the report reads its figures)."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from gridsup.strategy.protocols import Strategy


@runtime_checkable
class BacktestStrategy(Strategy, Protocol):
    """A ``Strategy`` that says which prices it ignores and books its own figures."""

    def tick_band(self) -> tuple[float, float] | None:
        """Open interval strictly inside which ``on_tick`` does nothing; None = every tick."""
        ...

    @property
    def realized_profit(self) -> Decimal: ...

    @property
    def completed_cycles(self) -> int: ...

    @property
    def levels(self) -> tuple[Decimal, ...]: ...

    @property
    def stopped(self) -> bool: ...
