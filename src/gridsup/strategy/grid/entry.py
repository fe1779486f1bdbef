"""The grid's entry (docs/strategies.md, "Initial position"): on the first price, buys in
the slots below it and, with ``initial_position = buy``, one market buy of the base for
the sells of the slots above; that buy's fill handed out to those slots lowest first, or
the slots reported as skipped when it fails.

Split from ``grid.py`` (which decides when); these functions only read and change the
book and place through the desk.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from gridsup.messages.common import Side
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.orders import OrderPlacer, log_event
from gridsup.strategy.grid.state import OrderRole, Phase, TrackedOrder
from gridsup.strategy.levels import first_level_at_or_above

_ZERO = Decimal(0)


def open_grid(book: GridBook, desk: OrderPlacer, price: Decimal, buy_above: bool) -> None:
    """Place the grid's orders on its first price ``price`` (inside its stops): the
    lowest level at or above it stays empty; ``buy_above`` buys the base for the sells
    above it at market first."""
    empty = first_level_at_or_above(book.levels, price)
    slots = len(book.slot_order)
    above: list[int] = []
    if buy_above:
        for k in range(empty, slots):
            if book.slot_order[k] is not None:
                continue  # adopted before the first price (a lost state)
            # Buy no base for a sell that the market's limits would refuse anyway.
            refusal = desk.refusal(book.amounts[k], book.levels[k + 1])
            if refusal is None:
                above.append(k)
            else:
                desk.skip(k, k + 1, Side.SELL, book.amounts[k], refusal)
    book.phase = Phase.ENTERING if above else Phase.RUNNING
    book.entry_slots = above
    log_event(logging.INFO, "grid_started", desk.grid_id, price=price, empty_level=empty)
    for k in range(min(empty, slots)):
        if book.slot_order[k] is None:
            desk.place_limit(k, Side.BUY, book.amounts[k])
    if above and book.phase is Phase.ENTERING:
        need = sum((book.amounts[k] for k in above), _ZERO)
        refusal = desk.place_market(OrderRole.ENTRY, Side.BUY, need, price)
        if refusal is not None:
            skip_entry_slots(book, desk, f"initial market buy: {refusal}")


def close_entry(book: GridBook, desk: OrderPlacer, order: TrackedOrder) -> None:
    """The entry buy ``order`` is done: its base goes to the waiting slots' sells."""
    if book.phase is Phase.ENTERING:
        book.phase = Phase.RUNNING
    net = order.filled - order.base_fee
    if net <= 0:
        skip_entry_slots(book, desk, "initial market buy filled nothing")
        return
    slots, book.entry_slots = book.entry_slots, []
    unit_cost = order.quote / net
    left = net  # handed out lowest slot first; a short fill leaves the top ones short
    for k in slots:
        amount = min(book.amounts[k], desk.round(left))
        left -= amount
        book.slot_cost[k] = amount * unit_cost
        book.open_leg(k, order, amount / net)
        if book.phase is Phase.RUNNING:
            desk.place_limit(k, Side.SELL, amount)
    if left > 0:  # what rounding to the lot step left: dust, for a later sell
        book.dust += left
        book.dust_cost += left * unit_cost


def skip_entry_slots(book: GridBook, desk: OrderPlacer, reason: str) -> None:
    """The entry buy failed: the slots waiting for it are reported as skipped."""
    for k in book.entry_slots:
        desk.skip(k, k + 1, Side.SELL, book.amounts[k], reason)
    book.entry_slots = []
    if book.phase is Phase.ENTERING:
        book.phase = Phase.RUNNING
