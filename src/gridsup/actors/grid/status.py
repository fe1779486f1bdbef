"""What a strategy actor reports in its status (every heartbeat, ``gridsup status``):
its grid and mode, its state and the strategy's numbers, its tick subscription, its
commits, its order events and requests, and the reconciliation it keeps.

A view of the actor: its public fields (:class:`GridActorView`) and the parts it hands
over itself (:class:`GridParts`); :meth:`StrategyActor.status` returns
:func:`grid_status` of both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from gridsup.actors.grid.lifecycle import PAUSABLE_STATES, GridActorState
from gridsup.messages.common import Side
from gridsup.messages.control import StatusValue

if TYPE_CHECKING:
    from gridsup.actors.grid.commit import GridCommitter
    from gridsup.actors.grid.orders import OrderLink
    from gridsup.actors.grid.ticks import TickGate
    from gridsup.actors.run_config import GridSpec, RunConfig
    from gridsup.messages.store import StoreReply
    from gridsup.runtime.requests import Requester
    from gridsup.strategy.grid import GridTradingStrategy

# Status key prefix of a fee charged in a third currency: "fee:BNB".
FEE_PREFIX = "fee:"


class GridActorView(Protocol):
    """The public face of a strategy actor that its status reads."""

    @property
    def strategy(self) -> GridTradingStrategy: ...

    @property
    def spec(self) -> GridSpec: ...

    @property
    def run_config(self) -> RunConfig: ...

    @property
    def grid_state(self) -> GridActorState: ...

    @property
    def paused(self) -> bool: ...

    @property
    def fills_seen(self) -> int: ...

    @property
    def events_handled(self) -> int: ...

    @property
    def resyncs(self) -> int: ...

    @property
    def alerts_raised(self) -> int: ...


@dataclass(frozen=True, slots=True)
class GridParts:
    """The actor's own parts that its status reads, handed over by the actor (its links
    are None until they open, at start)."""

    ticks: TickGate
    committer: GridCommitter | None
    orders: OrderLink | None
    store: Requester[StoreReply] | None
    events_queued: int
    order_seq: int
    reconciliation: Mapping[str, StatusValue]


def grid_status(actor: GridActorView, parts: GridParts) -> dict[str, StatusValue]:
    """The status of ``actor``; the requests fields once its links are open (at start)."""
    strategy, committer = actor.strategy, parts.committer
    age = parts.ticks.age()  # None while unsubscribed: see TickGate.age
    out: dict[str, StatusValue] = {
        "grid": actor.spec.name,
        "symbol": actor.spec.symbol,
        "mode": "dry_run" if actor.run_config.dry_run else "live",
        "state": "paused"
        if actor.paused and actor.grid_state in PAUSABLE_STATES
        else actor.grid_state.value,
        "paused": actor.paused,
        "phase": strategy.phase.value,
        "stopped": strategy.stopped or actor.grid_state is GridActorState.ABORTED,
        "open_orders": len(strategy.open_orders()),
        "completed_cycles": strategy.completed_cycles,
        "realized_profit": str(strategy.realized_profit),
        "fills": actor.fills_seen,
        "fees_paid": str(strategy.fees_paid),  # in quote (base fees at their fill price)
        "base_held": str(strategy.base_held),
        "quote_in_orders": str(_quote_in_orders(strategy)),
        "stop_reason": None if strategy.stop_reason is None else strategy.stop_reason.value,
        "skipped_levels": len(strategy.skipped_levels),
        "ticks": "on" if parts.ticks.on else "off",
        "last_tick_age_s": None if age is None else round(age, 3),
        "state_version": 0 if committer is None else committer.state_version,
        "events_queued": parts.events_queued,
        "events_handled": actor.events_handled,
        "resyncs": actor.resyncs,
        "order_seq": parts.order_seq,
        "trades_recorded": 0 if committer is None else committer.trades_recorded,
        "trades_pending": len(strategy.pending_cycles()),
        "alerts_raised": actor.alerts_raised,
        "dust": str(strategy.dust),
    }
    if parts.orders is not None and parts.store is not None:
        orders, store = parts.orders, parts.store
        out["requests_pending"] = orders.requester.pending + store.pending
        out["requests_resent"] = orders.requester.resends + store.resends
        out["orders_retried"] = orders.retried
        # Orders refused for a passing reason (balance not yet credited, clock skew,
        # price band, halted symbol, paused account): the slot is kept, retried.
        out["orders_waiting"] = len(orders.waiting)
        if orders.waiting:
            out["waiting_reason"] = next(iter(orders.waiting.values()))[:200]
    out.update(parts.reconciliation)
    for asset, fee in strategy.other_fees.items():  # fees in a third currency (BNB ...)
        out[f"{FEE_PREFIX}{asset}"] = str(fee)
    return out


def _quote_in_orders(strategy: GridTradingStrategy) -> Decimal:
    """Quote the grid's open limit buys hold on the exchange (amount times price)."""
    return sum(
        (
            amount * price
            for _level, side, amount, price in strategy.open_orders().values()
            if side is Side.BUY and price is not None
        ),
        Decimal(0),
    )
