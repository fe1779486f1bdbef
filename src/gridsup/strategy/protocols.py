"""The two seams of a strategy: what the runtime calls on it (``Strategy``) and what
it may call on the runtime (``ExecutionContext``).

The same strategy object runs in a strategy actor (live and paper), in offline mode
and in a backtest; only the context differs. Strategies are synchronous and pure:
they never block, never touch sockets, databases or ccxt. Orders are *submitted*
through the context; what became of them comes back later as ``on_order_*`` calls.

Lifecycle::

    from_state(state)?  ->  initialize(ctx)  ->  on_tick / on_order_filled /
    on_order_cancelled / on_order_rejected ...  ->  get_state()  ->  shutdown()
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from gridsup.messages.common import FillReport, OrderIntent
from gridsup.messages.market import MarketInfo, Tick


@runtime_checkable
class ExecutionContext(Protocol):
    """What a strategy may do to the world. Every call returns at once."""

    @property
    def market(self) -> MarketInfo:
        """Precision and limits of the strategy's market."""
        ...

    def now_ms(self) -> int:
        """Current time in ms (wall clock live, candle time in a backtest)."""
        ...

    def place_order(self, intent: OrderIntent) -> None:
        """Submit an order. Its fate arrives as on_order_filled/cancelled/rejected."""
        ...

    def cancel_order(self, client_order_id: str) -> None:
        """Ask for an order to be cancelled; the outcome arrives as on_order_cancelled."""
        ...


@runtime_checkable
class Strategy(Protocol):
    """A trading strategy driven by ticks and order events."""

    name: str

    def initialize(self, ctx: ExecutionContext) -> None:
        """Bind to a context and, on a first start, place the initial orders."""
        ...

    def on_tick(self, tick: Tick) -> None:
        """React to a new price."""
        ...

    def on_order_filled(self, fill: FillReport) -> None:
        """One execution of one of our orders (partial or final)."""
        ...

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        """Our order is gone without (fully) filling; ``filled`` is what did fill."""
        ...

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        """The exchange refused the order (minimum notional, funds, ...)."""
        ...

    def get_state(self) -> dict[str, Any]:
        """A JSON-able snapshot, carrying a ``version`` key, to persist."""
        ...

    def from_state(self, state: Mapping[str, Any]) -> None:
        """Restore from a snapshot (migrating older versions) before initialize."""
        ...

    def shutdown(self) -> None:
        """Stop trading; do not cancel orders (a restart will reconcile them)."""
        ...
