"""Reconciliation: what a (re)starting grid makes of the exchange's word (invariant 3).

Pure logic in two steps, so that a mismatch can stop a grid *before* anything changes:

1. :func:`plan_reconciliation` compares the orders the grid tracks with the execution
   actor's snapshot (its open orders plus the final status and fills of every tracked
   id) and sorts each order into one bucket:

   - **orphan**: open, our prefix, this grid, not tracked -> adopted onto its slot;
   - **phantom**: tracked, no longer open -> what really happened is applied: fills
     (their counter orders placed, profit booked), a cancel re-placed or dropped per
     :class:`CancelPolicy`, a rejection reported;
   - **unsent**: tracked, unknown to the exchange, and named by the saved state as
     about to be sent (the actor saves before it sends, so a crash between the two
     leaves exactly this) -> sent again; normal operation, not a mismatch;
   - **missing**: tracked, unknown to the exchange although an earlier commit sent it
     -> the same intent is sent again (idempotent by its client id), and counted;
   - **foreign**: open, not this grid's id -> reported, never touched.

2. :func:`apply_reconciliation` drives those outcomes through the strategy's own event
   methods, so a fill met here books exactly what it would have booked live (fills are
   idempotent by cumulative filled amount: a later duplicate changes nothing).

Phantoms go first: a fill's counter order gets the same deterministic client id as an
orphan the crashed incarnation had already placed for it, so the orphan is then simply
tracked again (and its re-send acknowledged, not duplicated).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, Side
from gridsup.messages.orders import OrderState
from gridsup.strategy.grid.state import AdoptOutcome
from gridsup.strategy.ids import parse_client_order_id

__all__ = [
    "CancelPolicy",
    "Reconcilable",
    "ReconciliationPlan",
    "ReconciliationResult",
    "Verdict",
    "apply_reconciliation",
    "plan_reconciliation",
    "verdict",
]

# How many ids of one kind the status line lists (the counts are always exact).
_STATUS_IDS = 8


class CancelPolicy(enum.Enum):
    """What to do with a tracked order found cancelled (not by us) while we were down.
    Same values as ``gridsup.actors.run_config.CancelPolicy``."""

    REPLACE = "replace"
    DROP = "drop"


class Reconcilable(Protocol):
    """What reconciliation needs of a strategy (``GridTradingStrategy`` provides it)."""

    grid_id: str

    def tracks(self, client_order_id: str) -> bool: ...

    def tracked_orders(self) -> dict[str, OrderIntent]: ...

    def adopt_order(
        self, client_order_id: str, side: Side, price: Decimal, amount: Decimal, filled: Decimal
    ) -> AdoptOutcome: ...

    def on_order_filled(self, fill: FillReport) -> None: ...

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None: ...

    def on_order_rejected(self, client_order_id: str, reason: str) -> None: ...


class Verdict(enum.Enum):
    """What a plan's mismatch count means for the grid."""

    PROCEED = "proceed"  # at or below the threshold
    ALERT = "alert"  # above it: log ``reconciliation_mismatch`` at error level, trade on
    ABORT = "abort"  # above it with policy abort: change nothing, that grid stops


def verdict(mismatches: int, threshold: int, abort: bool) -> Verdict:
    """Mismatches *above* ``threshold`` alert; with ``abort`` they stop the grid."""
    if mismatches <= threshold:
        return Verdict.PROCEED
    return Verdict.ABORT if abort else Verdict.ALERT


@dataclass(frozen=True, slots=True)
class ReconciliationPlan:
    """Every order of the snapshot and of the state, sorted by what must happen to it."""

    open_tracked: tuple[OrderState, ...] = ()  # agree (fills while down still applied)
    orphans: tuple[OrderState, ...] = ()
    phantoms: tuple[OrderState, ...] = ()
    missing: tuple[OrderIntent, ...] = ()
    foreign: tuple[str, ...] = ()
    unsent: tuple[OrderIntent, ...] = ()  # saved, never sent: resent, not a mismatch

    @property
    def mismatches(self) -> int:
        """Orders whose state normal trading does not explain: orphans, missing orders
        and phantoms that did not fill. A phantom that filled is the market moving while
        we were down, not a disagreement; an unsent order is the save-then-send window a
        crash cut short, not one either."""
        unfilled = sum(1 for o in self.phantoms if o.status is not OrderStatus.CLOSED)
        return len(self.orphans) + len(self.missing) + unfilled


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    """What reconciliation did; reported in the strategy actor's status."""

    orphans: tuple[str, ...] = ()  # adopted onto their slot
    unadopted: tuple[str, ...] = ()  # ours and open but no slot takes them: left alone
    phantoms_filled: tuple[str, ...] = ()
    phantoms_cancelled: tuple[str, ...] = ()
    phantoms_rejected: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()  # cancelled phantoms whose slot got its order again
    dropped: tuple[str, ...] = ()  # cancelled phantoms forgotten (CancelPolicy.DROP)
    resent: tuple[OrderIntent, ...] = ()  # unsent and missing orders: again, same ids
    foreign: tuple[str, ...] = ()
    unsent: tuple[str, ...] = ()  # of ``resent``, those the saved state named unsent
    fills_applied: int = 0
    mismatches: int = 0
    aborted: bool = False

    @property
    def changed(self) -> bool:
        """Whether reconciliation found anything to do (a resync usually finds nothing)."""
        return bool(
            self.orphans
            or self.unadopted
            or self.phantoms_filled
            or self.phantoms_cancelled
            or self.phantoms_rejected
            or self.resent
            or self.fills_applied
            or self.aborted
        )

    def status(self) -> dict[str, str | int | bool]:
        """Flat fields for the actor's status (counts, and the first few ids)."""
        lists: dict[str, Sequence[str]] = {
            "orphans": self.orphans,
            "unadopted": self.unadopted,
            "phantoms_filled": self.phantoms_filled,
            "phantoms_cancelled": self.phantoms_cancelled,
            "phantoms_rejected": self.phantoms_rejected,
            "replaced": self.replaced,
            "dropped": self.dropped,
            "resent": [i.client_order_id for i in self.resent],
            "foreign": self.foreign,
            "unsent": self.unsent,
        }
        out: dict[str, str | int | bool] = {}
        for name, ids in lists.items():
            out[f"recon_{name}"] = len(ids)
            if ids:
                shown = ",".join(ids[:_STATUS_IDS])
                out[f"recon_{name}_ids"] = shown + (",..." if len(ids) > _STATUS_IDS else "")
        out["recon_fills_applied"] = self.fills_applied
        out["recon_mismatches"] = self.mismatches
        out["recon_aborted"] = self.aborted
        return out


def plan_reconciliation(
    grid_id: str,
    tracked: Mapping[str, OrderIntent],
    snapshot: Iterable[OrderState],
    unsent: Collection[str] = (),
) -> ReconciliationPlan:
    """Sort the tracked orders and the snapshot's orders into the plan's buckets.

    ``unsent`` are the client ids the last saved state names as about to be sent: a
    tracked order among them that the exchange does not know is *unsent*, not *missing*.
    A snapshot order of this grid that is final and untracked is history (an order the
    state already closed) and belongs to no bucket.
    """
    open_tracked: list[OrderState] = []
    orphans: list[OrderState] = []
    phantoms: list[OrderState] = []
    foreign: list[str] = []
    seen: set[str] = set()
    for order in snapshot:
        cid = order.intent.client_order_id
        seen.add(cid)
        if cid in tracked:
            (phantoms if order.status.is_final else open_tracked).append(order)
            continue
        parsed = parse_client_order_id(cid)
        if parsed is None or not parsed.belongs_to(grid_id):
            if not order.status.is_final:
                foreign.append(cid)
        elif not order.status.is_final:
            orphans.append(order)
    absent = [(cid, intent) for cid, intent in tracked.items() if cid not in seen]
    return ReconciliationPlan(
        open_tracked=tuple(open_tracked),
        orphans=tuple(orphans),
        phantoms=tuple(phantoms),
        missing=tuple(intent for cid, intent in absent if cid not in unsent),
        foreign=tuple(foreign),
        unsent=tuple(intent for cid, intent in absent if cid in unsent),
    )


def _apply_fills(strategy: Reconcilable, order: OrderState) -> int:
    """Feed the order's fills in execution order; the strategy ignores the ones it has
    already counted. Returns how many were handed over."""
    fills = sorted(order.fills, key=lambda f: (f.order_filled, f.timestamp, f.trade_id))
    for fill in fills:
        strategy.on_order_filled(fill)
    return len(fills)


def apply_reconciliation(
    strategy: Reconcilable,
    plan: ReconciliationPlan,
    cancel_policy: CancelPolicy = CancelPolicy.REPLACE,
) -> ReconciliationResult:
    """Drive the plan's outcomes through ``strategy`` (whose context must be bound: the
    counter orders and re-placed orders it submits go out once the actor has saved the
    reconciled state). Returns what was done; ``resent`` are for the caller to send."""
    fills = 0
    for order in plan.open_tracked:
        fills += _apply_fills(strategy, order)
    filled: list[str] = []
    cancelled: list[str] = []
    rejected: list[str] = []
    replaced: list[str] = []
    dropped: list[str] = []
    for order in plan.phantoms:
        cid = order.intent.client_order_id
        fills += _apply_fills(strategy, order)
        still_tracked = strategy.tracks(cid)
        match order.status:
            case OrderStatus.CLOSED:
                filled.append(cid)
                if still_tracked:
                    # Filled, but not every trade was reported: close it on its total.
                    strategy.on_order_cancelled(cid, order.filled)
            case OrderStatus.CANCELED | OrderStatus.EXPIRED:
                cancelled.append(cid)
                if not still_tracked:
                    continue
                if cancel_policy is CancelPolicy.REPLACE or order.filled > 0:
                    # What did fill is real: its counter order goes out either way.
                    replaced.append(cid)
                    strategy.on_order_cancelled(cid, order.filled)
                else:
                    dropped.append(cid)
                    why = f"{order.status.value} while the grid was down (policy drop)"
                    strategy.on_order_rejected(cid, why)
            case OrderStatus.REJECTED:
                rejected.append(cid)
                if still_tracked:
                    strategy.on_order_rejected(cid, "rejected while the grid was down")
            case OrderStatus.OPEN:
                raise AssertionError(f"{cid}: an open order planned as a phantom")
    adopted: list[str] = []
    unadopted: list[str] = []
    for order in plan.orphans:
        outcome = _adopt(strategy, order)
        if outcome is AdoptOutcome.ADOPTED or outcome is AdoptOutcome.ALREADY_TRACKED:
            # ALREADY_TRACKED: a phantom's counter order re-created this very id.
            adopted.append(order.intent.client_order_id)
            fills += _apply_fills(strategy, order)
        else:
            unadopted.append(order.intent.client_order_id)
    return ReconciliationResult(
        orphans=tuple(adopted),
        unadopted=tuple(unadopted),
        phantoms_filled=tuple(filled),
        phantoms_cancelled=tuple(cancelled),
        phantoms_rejected=tuple(rejected),
        replaced=tuple(replaced),
        dropped=tuple(dropped),
        resent=plan.unsent + plan.missing,
        foreign=plan.foreign,
        unsent=tuple(i.client_order_id for i in plan.unsent),
        fills_applied=fills,
        mismatches=plan.mismatches + len(unadopted),
    )


def _adopt(strategy: Reconcilable, order: OrderState) -> AdoptOutcome:
    intent = order.intent
    if intent.price is None:
        return AdoptOutcome.NOT_A_LEVEL  # a market order has no slot to sit in
    # With the trades at hand, adopt it unfilled and replay them (exact prices and
    # fees); without, the strategy books what filled at the order's price.
    known = sum((f.amount for f in order.fills), Decimal(0))
    filled = Decimal(0) if known >= order.filled else order.filled
    return strategy.adopt_order(
        intent.client_order_id, intent.side, intent.price, intent.amount, filled
    )
