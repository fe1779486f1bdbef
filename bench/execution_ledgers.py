"""The execution actor's bookkeeping per order as the fleet grows: the budget check of a
placement (TrackedOrders.open_buy_notional) and the wait of a placement's reply for the
account save (Outbox: push, flushed, acked, ready).

    .venv/bin/python bench/execution_ledgers.py [--orders-per-grid 12]

Each grid holds ``--orders-per-grid`` open orders. Per fleet size it prints the CPU per
placement of each, and its ratio to the same figure for 10 grids measured in the same
run: a ratio near 1 means the cost per order does not grow with the fleet (no scan of
the whole account per order).
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal

from gridsup.actors.execution.outbox import Outbox
from gridsup.actors.execution.tracked_orders import TrackedOrder, TrackedOrders
from gridsup.messages.common import OrderIntent, OrderType, Side

FLEETS = (10, 100, 500, 1000)
BASE = FLEETS[0]


def book_of(grids: int, per_grid: int) -> TrackedOrders:
    book = TrackedOrders()
    for g in range(grids):
        for n in range(per_grid):
            intent = OrderIntent(
                client_order_id=f"g{g}c{n}",
                symbol="BTC/USDT",
                side=Side.BUY if n % 2 else Side.SELL,
                type=OrderType.LIMIT,
                amount=Decimal("0.001"),
                price=Decimal(59000 + n),
            )
            book.add(TrackedOrder(grid=f"g{g}", intent=intent))
    return book


def budget_check_us(grids: int, per_grid: int) -> float:
    """CPU per placement: one grid's open buy notional, for every grid in turn."""
    book = book_of(grids, per_grid)
    rounds = max(1, 20_000 // grids)
    t0 = time.process_time()
    for _ in range(rounds):
        for g in range(grids):
            book.open_buy_notional(f"g{g}")
    return (time.process_time() - t0) / (rounds * grids) * 1e6


def outbox_us(grids: int, per_grid: int) -> float:
    """CPU per placement of a move in which every grid places one order: each waits for
    the account save, which carries 3 records per placement (as a paper flush does);
    the save is sent once per 20 placements and acked in full before the next."""
    rounds = max(1, 2_000 // grids)
    t0 = time.process_time()
    for _ in range(rounds):
        box = Outbox()
        rid = 0
        for g in range(grids):
            box.push([], [("reply", [b"id"], g)], needs_flush=True)
            if g % 20 == 19 or g == grids - 1:
                ids = [f"r{rid + i}" for i in range(3 * 20 + 2)]
                rid += len(ids)
                box.flushed(ids)
                for r in ids:
                    box.acked(r)
                for _ in box.ready():
                    pass
    return (time.process_time() - t0) / (rounds * grids) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders-per-grid", type=int, default=12)
    args = parser.parse_args()
    per = args.orders_per_grid
    budget_check_us(BASE, per), outbox_us(BASE, per)  # warm-up
    rows = {n: (budget_check_us(n, per), outbox_us(n, per)) for n in FLEETS}
    base_budget, base_outbox = rows[BASE]
    print(f"per placement, {per} open orders per grid; ratio to {BASE} grids in this run")
    print(f"{'grids':>6} {'budget check':>14} {'ratio':>6} {'outbox':>10} {'ratio':>6}")
    for n, (budget, outbox) in rows.items():
        print(
            f"{n:>6} {budget:>11.2f} us {budget / base_budget:>6.1f}"
            f" {outbox:>7.2f} us {outbox / base_outbox:>6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
