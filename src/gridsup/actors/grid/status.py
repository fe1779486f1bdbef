"""What a strategy actor reports in its status (every heartbeat, ``gridsup status``):
its grid and mode, its state and the strategy's numbers, its tick subscription, its
commits, its order events and requests, and the reconciliation it keeps.

A view of the actor, read from its fields (as asyncio's repr helpers read a task's):
:meth:`StrategyActor.status` returns :func:`grid_status` of itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from gridsup.actors.grid.lifecycle import PAUSABLE_STATES, GridActorState
from gridsup.messages.common import Side
from gridsup.messages.control import StatusValue

if TYPE_CHECKING:
    from gridsup.actors.grid.actor import StrategyActor
    from gridsup.strategy.grid import GridTradingStrategy

# Status key prefix of a fee charged in a third currency: "fee:BNB".
FEE_PREFIX = "fee:"


def grid_status(actor: StrategyActor) -> dict[str, StatusValue]:
    """The status of ``actor``; the requests fields once its links are open (at start)."""
    strategy, committer = actor.strategy, actor._committer
    age = actor._ticks.age()  # None while unsubscribed: see TickGate.age
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
        "ticks": "on" if actor._ticks.on else "off",
        "last_tick_age_s": None if age is None else round(age, 3),
        "state_version": 0 if committer is None else committer.state_version,
        "events_queued": len(actor._events),
        "events_handled": actor.events_handled,
        "resyncs": actor.resyncs,
        "order_seq": actor._seq,
        "trades_recorded": 0 if committer is None else committer.trades_recorded,
        "trades_pending": len(strategy.pending_cycles()),
        "alerts_raised": actor.alerts_raised,
        "dust": str(strategy.dust),
    }
    if actor._orders is not None and actor._store is not None:
        orders, store = actor._orders, actor._store
        out["requests_pending"] = orders.requester.pending + store.pending
        out["requests_resent"] = orders.requester.resends + store.resends
        out["orders_retried"] = orders.retried
        # Orders refused for a passing reason (balance not yet credited, clock skew,
        # price band, halted symbol, paused account): the slot is kept, retried.
        out["orders_waiting"] = len(orders.waiting)
        if orders.waiting:
            out["waiting_reason"] = next(iter(orders.waiting.values()))[:200]
    out.update(actor._recon_status)
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
