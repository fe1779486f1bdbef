"""The execution actor's clean stop: nothing it did on the exchange is lost on the way out.

The runtime cancels an actor's tasks before ``on_stop`` runs, so a placement can be cut
short after its create request reached the exchange: its answer unread, or its trades
still being fetched (queued behind the account's rate limit while the grids' stop
cancels crowd it). On Binance a limit order that crosses the price fills at once, as
taker, so such an order is usually *filled* by then: no open-order poll will ever show
it, and before this module its fill never reached the database (issue 14, the live
chaos run's "trades missing after stop --cancel-orders"). So a clean stop, in order:

1. **settles the placements in doubt** (:func:`settle_placements`): every tracked order
   whose placement did not finish, and every placement answered ambiguously, is looked
   up by its client id: found, it is booked as any placement (acknowledged, its trades,
   its final state); not found, it never reached the exchange and is forgotten;
2. with ``--cancel-orders``, **polls** every symbol once (live): what filled since the
   last poll is booked in a few requests, and an order of ours the exchange holds but
   we do not track (an orphan) is adopted, so that it is cancelled too;
3. with ``--cancel-orders``, **cancels** every open order, each re-sent with backoff
   until the exchange confirms it (a cancel whose answer was lost is sent again: the
   exchange's "unknown order" then leads to a look-up that shows it cancelled).

All of it within ``budget_s`` (the actor's stop timeout less the time its records need
to become durable); what is not settled by then is logged and left to the next start's
reconciliation, which finds it the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.poller import poll
from gridsup.actors.execution.tracked_orders import TrackedOrder
from gridsup.exchange.errors import ExchangeError, OrderNotFound

__all__ = ["settle_on_stop", "settle_placements"]

log = structlog.get_logger("gridsup.actors.execution")

# A cancel refused for a passing reason at stop is sent again after this, doubling.
CANCEL_RETRY_FIRST_S = 0.2
CANCEL_RETRY_MAX_S = 2.0

Commit = Callable[[Records], None]


async def settle_on_stop(
    desk: Desk, commit: Commit, *, cancel_orders: bool, budget_s: float
) -> None:
    """Steps 1 to 3 of the module docstring, each result handed to ``commit`` as soon
    as it is known (so what was settled is durable even if the budget runs out)."""
    deadline = time.monotonic() + budget_s
    try:
        async with asyncio.timeout(budget_s):
            commit(await settle_placements(desk))
            if cancel_orders:
                if not desk.venue.dry_run:  # the paper account books its fills on ticks
                    await _final_poll(desk, commit)
                await _cancel_open_orders(desk, commit, deadline)
    except TimeoutError:
        log.error(
            "stop_settling_timed_out",
            budget_s=round(budget_s, 3),
            open_orders=len(desk.book),
            note="the next start reconciles what is left",
        )
    if cancel_orders:
        log.info("orders_cancelled_on_stop", open_left=len(desk.book))


async def settle_placements(desk: Desk) -> Records:
    """Step 1: book or forget every placement whose outcome this actor does not know.

    A placement still in flight is left to its task (none is, once the runtime has
    cancelled the tasks). A look-up that fails leaves the order as it is (logged): an
    unknown outcome stays unknown, never a guess.
    """
    doubtful = [t for t in desk.book.open_orders() if not t.placed and not desk.in_flight(t.cid)]
    doubtful += [t for cid, t in desk.doubtful.items() if desk.book.get(cid) is None]
    requests: Records = ([], [])
    for tracked in doubtful:
        try:
            records = await _settle(desk, tracked)
        except ExchangeError as exc:
            log.warning("placement_unsettled", client_order_id=tracked.cid, error=str(exc))
            continue
        requests[0].extend(records[0])
        requests[1].extend(records[1])
    return requests


async def _settle(desk: Desk, tracked: TrackedOrder) -> Records:
    """Look ``tracked`` up by client id; book it as placed, or forget it."""
    order = await desk.venue.lookup(tracked.cid, tracked.intent.symbol)
    desk.doubtful.pop(tracked.cid, None)
    if order is None:
        if desk.book.get(tracked.cid) is tracked:
            desk.book.discard(tracked.cid)  # the create never reached the exchange
        return [], []
    trades = await desk.venue.trades_of(order) if order.filled > 0 else []
    await desk.price_fees(trades)
    log.warning(
        "placement_settled_on_stop",
        client_order_id=tracked.cid,
        status=order.status.value,
        filled=str(order.filled),
    )
    tracked = desk.book.add(tracked)
    requests = [desk.booking.acknowledged(tracked, order)]
    more, actions = desk.booking.absorb(tracked, order, trades)
    return requests + more, actions


async def _final_poll(desk: Desk, commit: Commit) -> None:
    """Step 2: one poll of every symbol (fills since the last poll, orphans adopted)."""
    try:
        result = await poll(desk.venue, desk.book, desk.grid_of)
    except ExchangeError as exc:  # the cancels below find each order's state anyway
        log.warning("order_poll_failed", error=str(exc), when="stop")
        return
    commit(await desk.on_poll(result))


async def _cancel_open_orders(desk: Desk, commit: Commit, deadline: float) -> None:
    """Step 3: cancel every open order of the run (never a foreign one), re-sending a
    cancel refused for a passing reason (a lost answer, a 5xx, a rate limit) with
    backoff until the exchange confirms it or the deadline passes."""
    for tracked in list(desk.book.open_orders()):
        if not tracked.placed:
            continue  # its look-up failed in step 1: the next start settles it
        delay = CANCEL_RETRY_FIRST_S
        while True:
            try:
                records = await desk.cancel_tracked(tracked)
            except OrderNotFound as exc:  # neither cancellable nor found by its id
                log.error("cancel_on_stop_failed", client_order_id=tracked.cid, error=str(exc))
                break
            except ExchangeError as exc:
                if time.monotonic() + delay >= deadline:
                    log.error("cancel_on_stop_failed", client_order_id=tracked.cid, error=str(exc))
                    break
                log.warning("cancel_on_stop_resent", client_order_id=tracked.cid, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, CANCEL_RETRY_MAX_S)
                continue
            commit(records)
            break
