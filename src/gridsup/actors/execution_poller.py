"""Live fill detection: compare what the exchange says with the orders we track.

One ``fetch_open_orders`` for every symbol per poll; an order whose filled amount grew
gets its new trades fetched, and a tracked order that left the open list is looked up
by client id (``fetch_order``) and its trades fetched, so a fill, an expiry or a cancel
made elsewhere is learned within one poll interval. Orders with our prefix that we do
not track are orphans (adopted by the actor); orders without it are foreign: counted
and reported, never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from gridsup.actors.execution_book import OrderBook, TrackedOrder
from gridsup.actors.execution_venue import Venue
from gridsup.exchange.types import Order, Trade

log = structlog.get_logger("gridsup.actors.execution")


@dataclass(slots=True)
class Change:
    """What one tracked order became: the exchange's view and its new trades."""

    tracked: TrackedOrder
    order: Order
    trades: list[Trade]


@dataclass(slots=True)
class PollResult:
    changes: list[Change] = field(default_factory=list)
    orphans: list[Order] = field(default_factory=list)  # ours, untracked, open
    foreign: set[str] = field(default_factory=set)  # exchange ids of orders not ours


async def poll(venue: Venue, book: OrderBook, grid_of: Callable[[str], str | None]) -> PollResult:
    """One poll of the account (see the module docstring).

    ``grid_of`` maps a client order id to its grid's name (None: not one of ours).

    Raises:
        ExchangeError: a request failed; nothing was changed.
    """
    result = PollResult()
    open_now = await venue.open_orders()
    by_cid: dict[str, Order] = {}
    for order in open_now:
        cid = order.client_order_id
        if cid is None or grid_of(cid) is None:
            result.foreign.add(order.id)
            continue
        by_cid[cid] = order
        if book.get(cid) is None:
            result.orphans.append(order)
    for tracked in book.open_orders():
        if not tracked.placed:
            continue  # its placement is in flight: the placing task owns it
        current = by_cid.get(tracked.cid)
        if current is None:
            current = await venue.lookup(tracked.cid, tracked.intent.symbol)
            if current is None:
                log.warning("order_vanished", client_order_id=tracked.cid)
                continue
        trades: list[Trade] = []
        if current.filled > tracked.filled:
            trades = [t for t in await venue.trades_of(current) if t.id not in tracked.trade_ids]
        if trades or current.status is not tracked.status:
            result.changes.append(Change(tracked, current, trades))
    return result
