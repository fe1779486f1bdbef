"""A grid's start path, also taken by every resync: load the last state into the
strategy, then judge a snapshot of the venue's orders against it and apply the
reconciliation plan (design invariant 3).

The strategy actor drives both (it takes the lock first, queries the snapshot, keeps the
result for its status and commits what reconciliation produced); these functions hold
what a start *decides*. Missing evidence is never an outcome: a state the store cannot
give crashes the actor, and too much disagreement under policy abort changes nothing.
"""

from __future__ import annotations

from typing import assert_never

import msgspec
import structlog

from gridsup.actors.grid.commit import GridCommitter, split_unsent
from gridsup.actors.grid.lifecycle import StateLoadError
from gridsup.actors.run_config import GridSpec, MismatchPolicy, RunConfig
from gridsup.messages.orders import OrderSnapshot
from gridsup.messages.store import Ack, LoadState, RetiredIdsFound, StateLoaded, StoreReply
from gridsup.runtime.requests import Requester
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.reconcile import (
    CancelPolicy,
    ReconciliationResult,
    Verdict,
    apply_reconciliation,
    plan_reconciliation,
    verdict,
)

log = structlog.get_logger("gridsup.actors.strategy")


async def load_state(
    store: Requester[StoreReply],
    committer: GridCommitter,
    strategy: GridTradingStrategy,
    spec: GridSpec,
) -> bool:
    """Restore ``strategy`` from grid ``spec``'s last saved state (none yet: it starts
    new), and hand the loaded version and bytes to ``committer``. Returns whether the
    grid is paused on request (it must start paused).

    Raises:
        StateLoadError: the store answered with an error.
    """
    # The claim makes this incarnation the grid's lessee with a new fencing epoch (the
    # caller holds the grid's lock): a late save of a dead predecessor is refused.
    request = LoadState(request_id=store.next_id(), grid_id=spec.grid_id, claim=True)
    reply = await store.request(request)
    match reply:
        case StateLoaded(version=version, state=state, epoch=epoch, paused=paused):
            decoded = None if state is None else msgspec.json.decode(state)
            unsent = split_unsent(decoded) if isinstance(decoded, dict) else frozenset()
            committer.loaded(version, state, unsent, epoch)
            if decoded is not None:
                strategy.from_state(decoded)
            log.info(
                "grid_state_loaded", grid=spec.name, version=version, epoch=epoch, paused=paused
            )
            return paused
        case Ack(error=error):
            log.error("grid_state_load_failed", grid=spec.name, error=error)
            raise StateLoadError(f"grid {spec.name}: state load failed: {error}")
        case RetiredIdsFound():  # the answer to another request: never to a LoadState
            raise StateLoadError(f"grid {spec.name}: state load answered {reply!r}")
        case _ as unreachable:
            assert_never(unreachable)


def reconcile(
    strategy: GridTradingStrategy,
    snapshot: OrderSnapshot,
    spec: GridSpec,
    run: RunConfig,
    unsent: frozenset[str] = frozenset(),
) -> ReconciliationResult:
    """Compare what ``strategy`` tracks with ``snapshot`` and apply the plan under the
    run's cancel policy; ``unsent`` are the placements the saved state names as not sent
    yet (re-sent, never counted as mismatches). More mismatches than the run's threshold log
    ``reconciliation_mismatch``; under policy abort nothing is applied and the result is
    ``aborted``.
    """
    plan = plan_reconciliation(spec.grid_id, strategy.tracked_orders(), snapshot.orders, unsent)
    judged = verdict(
        plan.mismatches, run.mismatch_threshold, run.mismatch_policy is MismatchPolicy.ABORT
    )
    if judged is not Verdict.PROCEED:
        log.error(
            "reconciliation_mismatch",
            grid=spec.name,
            mismatches=plan.mismatches,
            threshold=run.mismatch_threshold,
            policy=run.mismatch_policy.value,
            orphans=len(plan.orphans),
            phantoms=len(plan.phantoms),
            missing=len(plan.missing),
            unsent=len(plan.unsent),
        )
    if judged is Verdict.ABORT:
        return ReconciliationResult(foreign=plan.foreign, mismatches=plan.mismatches, aborted=True)
    return apply_reconciliation(strategy, plan, CancelPolicy(run.cancel_policy.value))
