"""What a closed slot order calls for (docs/strategies.md, "Fills and counter orders"):
a filled buy's counter sell, sized from the base received plus the grid's dust, or the
dust when the market would refuse it; a sell's booked cycle and the slot's buy again;
and when a partly filled buy is worth cutting so that its part is sold at once.

Split from ``grid.py`` (which decides when); these functions only read and change the
book and place through the desk.
"""

from __future__ import annotations

import logging

from gridsup.messages.common import Side
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.orders import OrderPlacer, log_event
from gridsup.strategy.grid.state import OrderRole, Phase, TrackedOrder

_ACTIVE = (Phase.RUNNING, Phase.ENTERING)


def close_grid_order(book: GridBook, desk: OrderPlacer, order: TrackedOrder) -> None:
    """The slot order ``order`` is done (filled, or cancelled after some fills)."""
    k, filled = order.slot, order.filled
    if book.slot_order[k] == order.client_order_id:
        book.slot_order[k] = None
    active = book.phase in _ACTIVE
    if order.side is Side.BUY:
        if filled > 0:
            book.open_leg(k, order)
            amount = book.size_counter_sell(order, desk.round)
            if not active:
                return
            refusal = desk.refusal(amount, book.levels[k + 1])
            if refusal is None:
                desk.place_limit(k, Side.SELL, amount)
            else:
                # Too small to sell alone: it waits in the dust for the slot's next
                # buy, whose counter sell will carry it.
                book.to_dust(k, amount)
                log_event(
                    logging.WARNING,
                    "counter_sell_pooled",
                    desk.grid_id,
                    slot=k,
                    amount=amount,
                    why=refusal,
                )
                desk.place_limit(k, Side.BUY, book.amounts[k])
        elif active and not order.cancel_requested:
            desk.place_limit(k, Side.BUY, order.amount)  # cancelled by someone else
        return
    if filled > 0:
        book.book_sell(order)
        if filled < order.amount:
            book.to_dust(k, order.amount - filled)  # the unsold rest: a later sell's
        if active:
            amount = book.amounts[k] if filled >= order.amount else filled
            desk.place_limit(k, Side.BUY, amount)
    elif active and not order.cancel_requested:
        desk.place_limit(k, Side.SELL, order.amount)


def cut_worthy(book: GridBook, desk: OrderPlacer, order: TrackedOrder) -> bool:
    """Whether a still-open, partly filled grid buy should be cut: what it bought (with
    the grid's dust) already makes a sell the market accepts."""
    if (
        order.role is not OrderRole.GRID
        or order.side is not Side.BUY
        or order.cancel_requested
        or book.phase not in _ACTIVE
    ):
        return False
    amount = desk.round(order.filled - order.base_fee + book.dust)
    return desk.refusal(amount, book.levels[order.slot + 1]) is None
