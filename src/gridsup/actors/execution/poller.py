"""Live fill detection: compare what the exchange says with the orders we track.

A quiet poll is one request: ``fetch_open_orders`` of one symbol, or of every symbol
when that weighs less (the execution actor's ``PollPlan`` chooses, and paces the polls
within the host's request budget). When orders filled
(their filled amount grew, or they left the open list), one ``fetch_my_trades`` per
symbol involved, from the oldest such order's time, brings their trades. An order that
left the list and whose trades add up to its amount is closed — that is evidence, not a
guess; any other one is looked up by client id (``fetch_order``: cancelled, expired,
or trades beyond the answer's cap), and its own trades fetched. So a fill, an expiry
or a cancel made elsewhere is learned within one poll interval, in a few requests.
Orders with our prefix that we do not track are orphans (adopted by the actor); orders
without it are foreign: counted and reported, never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from gridsup.actors.execution.tracked_orders import TrackedOrder, TrackedOrders
from gridsup.actors.execution.venue import Venue
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderStatus

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
    symbol: str | None = None  # the symbol polled (None: every symbol)


async def poll(
    venue: Venue,
    book: TrackedOrders,
    grid_of: Callable[[str], str | None],
    symbol: str | None = None,
) -> PollResult:
    """One poll of the account, or of one ``symbol`` of it (see the module docstring).

    ``grid_of`` maps a client order id to its grid's name (None: not one of ours).

    Raises:
        ExchangeError: a request failed; nothing was changed.
    """
    result = PollResult(symbol=symbol)
    by_cid: dict[str, Order] = {}
    for order in await venue.open_orders(symbol):
        cid = order.client_order_id
        if cid is None or grid_of(cid) is None:
            result.foreign.add(order.id)
            continue
        by_cid[cid] = order
        if book.get(cid) is None:
            result.orphans.append(order)
    # Tracked orders that moved: filled more, or gone from the open list. (An order in
    # flight belongs to the task placing it.)
    moved = [
        (tracked, by_cid.get(tracked.cid))
        for tracked in book.open_orders()
        if tracked.placed
        and (symbol is None or tracked.intent.symbol == symbol)
        and ((current := by_cid.get(tracked.cid)) is None or current.filled > tracked.filled)
    ]
    if not moved:
        return result
    trades = await _symbol_trades(venue, [tracked for tracked, _ in moved])
    for tracked, current in moved:
        new = [t for t in trades.get(tracked.exchange_order_id or "", []) if _new(tracked, t)]
        got = tracked.filled + sum((t.amount for t in new), Decimal(0))
        if current is None and got >= tracked.order_amount:
            result.changes.append(Change(tracked, _closed(tracked, got), new))
            continue
        if current is None:
            current = await venue.lookup(tracked.cid, tracked.intent.symbol)
            if current is None:
                log.warning("order_vanished", client_order_id=tracked.cid)
                continue
        if current.filled > got:  # more than the symbol's answer held: ask for this order
            new = [t for t in await venue.trades_of(current) if _new(tracked, t)]
        if new or current.status is not tracked.status:
            result.changes.append(Change(tracked, current, new))
    return result


def _new(tracked: TrackedOrder, trade: Trade) -> bool:
    return trade.id not in tracked.trade_ids


async def _symbol_trades(venue: Venue, orders: list[TrackedOrder]) -> dict[str, list[Trade]]:
    """The trades of ``orders``' symbols since the oldest of them, by exchange order id."""
    since: dict[str, int] = {}
    for tracked in orders:
        symbol = tracked.intent.symbol
        since[symbol] = min(since.get(symbol, tracked.placed_at), tracked.placed_at)
    by_order: dict[str, list[Trade]] = {}
    for symbol, start in since.items():
        for trade in await venue.symbol_trades(symbol, start):
            by_order.setdefault(trade.order_id, []).append(trade)
    return by_order


def _closed(tracked: TrackedOrder, filled: Decimal) -> Order:
    """The exchange's order, as its trades prove it: fully filled, so closed."""
    intent = tracked.intent
    assert tracked.exchange_order_id is not None
    return Order(
        id=tracked.exchange_order_id,
        client_order_id=tracked.cid,
        symbol=intent.symbol,
        side=intent.side,
        type=intent.type,
        status=OrderStatus.CLOSED,
        price=intent.price,
        amount=tracked.order_amount,
        filled=filled,
        timestamp=tracked.placed_at,
    )
