"""What a strategy actor reports in its status (every heartbeat, ``gridsup status``):
its grid and mode, its state and the strategy's numbers, its tick subscription, its
commits, its order events and requests, and the reconciliation it keeps.

A view of the actor, read from its fields (as asyncio's repr helpers read a task's):
:meth:`StrategyActor.status` returns :func:`grid_status` of itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridsup.actors.strategy_lifecycle import GridActorState
from gridsup.messages.control import StatusValue

if TYPE_CHECKING:
    from gridsup.actors.strategy_actor import StrategyActor


def grid_status(actor: StrategyActor) -> dict[str, StatusValue]:
    """The status of ``actor``; the requests fields once its links are open (at start)."""
    strategy, committer = actor.strategy, actor._committer
    age = actor._ticks.age()  # None while unsubscribed: see TickGate.age
    out: dict[str, StatusValue] = {
        "grid": actor.spec.name,
        "symbol": actor.spec.symbol,
        "mode": "dry_run" if actor.run_config.dry_run else "live",
        "state": "paused"
        if actor.paused and actor.grid_state is GridActorState.TRADING
        else actor.grid_state.value,
        "paused": actor.paused,
        "phase": strategy.phase.value,
        "stopped": strategy.stopped or actor.grid_state is GridActorState.ABORTED,
        "open_orders": len(strategy.open_orders()),
        "completed_cycles": strategy.completed_cycles,
        "realized_profit": str(strategy.realized_profit),
        "ticks": "on" if actor._ticks.on else "off",
        "last_tick_age_s": None if age is None else round(age, 3),
        "state_version": 0 if committer is None else committer.state_version,
        "events_queued": len(actor._events),
        "events_handled": actor.events_handled,
        "resyncs": actor.resyncs,
        "order_seq": actor._seq,
        "trades_recorded": 0 if committer is None else committer.trades_recorded,
        "trades_pending": len(strategy.pending_cycles()),
    }
    if actor._orders is not None and actor._store is not None:
        orders, store = actor._orders, actor._store
        out["requests_pending"] = orders.requester.pending + store.pending
        out["requests_resent"] = orders.requester.resends + store.resends
        out["orders_retried"] = orders.retried
    out.update(actor._recon_status)
    return out
