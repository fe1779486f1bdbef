"""The slot invariant (design invariant 6) checked over a :class:`GridBook`: at most one
order per slot, a buy at the slot's lower level or a sell at its upper one, and every
slot pointing at its open order. Tests call it after every event
(``GridTradingStrategy.slot_invariant_violations``)."""

from __future__ import annotations

from gridsup.messages.common import Side
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.state import OrderRole


def slot_violations(book: GridBook, every_slot_filled: bool) -> list[str]:
    """Breaches of the slot invariant; ``every_slot_filled`` also demands an order (or
    a reported skip) in every slot, as initial position ``buy`` does once running."""
    problems: list[str] = []
    seen: dict[int, str] = {}
    for cid, order in book.orders.items():
        if order.role is not OrderRole.GRID:
            continue
        k = order.slot
        if k in seen:
            problems.append(f"slot {k} holds two orders: {seen[k]} and {cid}")
        seen[k] = cid
        expected = k if order.side is Side.BUY else k + 1
        if order.level != expected or order.price != book.levels[expected]:
            problems.append(f"{cid}: {order.side.value} at level {order.level} in slot {k}")
        if book.slot_order[k] != cid:
            problems.append(f"slot {k} does not point at its order {cid}")
    for k, pointed in enumerate(book.slot_order):
        if pointed is not None and seen.get(k) != pointed:
            problems.append(f"slot {k} points at {pointed}, which is not open")
    if every_slot_filled:
        for k in range(len(book.slot_order)):
            if k not in seen and k not in book.skipped:
                problems.append(f"slot {k} is empty and not reported as skipped")
    return problems
