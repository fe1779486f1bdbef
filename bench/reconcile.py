"""How long a grid's reconciliation takes (pure logic, no sockets), for the largest grid
(200 levels, 199 slots), next to the cost the strategy actor pays anyway after it: one
state snapshot encoded for the store (the baseline, measured in the same run).

    .venv/bin/python bench/reconcile.py [--repeat 200]

Cases: the exchange agrees (a quiet resync), every order filled while the grid was down
(199 counter orders), every order cancelled (policy replace), every order an orphan (a
lost state). Prints microseconds per reconciliation (median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from decimal import Decimal

import msgspec

from figures import median_s
from gridsup.exchange.markets import paper_market
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus
from gridsup.messages.market import Tick
from gridsup.messages.orders import OrderState
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.reconcile import CancelPolicy, apply_reconciliation, plan_reconciliation

MARKET = paper_market("BTC/USDT")  # Binance's filters
CONFIG = GridConfig.model_validate(
    {
        "name": "bench",
        "symbol": "BTC/USDT",
        "lower_price": "40000",
        "upper_price": "80000",
        "num_grids": 200,
        "total_investment": "100000",
        "initial_position": "none",
    }
)


class Outbox:
    market = MARKET

    def __init__(self) -> None:
        self.placed: list[OrderIntent] = []

    def now_ms(self) -> int:
        return 0

    def place_order(self, intent: OrderIntent) -> None:
        self.placed.append(intent)

    def cancel_order(self, client_order_id: str) -> None:
        pass


def saved_state() -> dict[str, object]:
    grid = GridTradingStrategy(CONFIG, "bench")
    grid.initialize(Outbox())
    grid.on_tick(Tick(symbol="BTC/USDT", timestamp=0, last=Decimal("80000")))  # 199 buys
    return grid.get_state()


def restarted(state: dict[str, object]) -> GridTradingStrategy:
    grid = GridTradingStrategy(CONFIG, "bench")
    grid.from_state(state)
    grid.initialize(Outbox())
    return grid


def fill(intent: OrderIntent) -> FillReport:
    assert intent.price is not None
    return FillReport(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        price=intent.price,
        amount=intent.amount,
        fee=Decimal("0.01"),
        fee_currency="USDT",
        trade_id=intent.client_order_id,
        timestamp=0,
        order_filled=intent.amount,
        order_closed=True,
    )


def snapshots(tracked: dict[str, OrderIntent]) -> dict[str, list[OrderState]]:
    return {
        "agrees": [OrderState(intent=i, status=OrderStatus.OPEN) for i in tracked.values()],
        "all filled": [
            OrderState(intent=i, status=OrderStatus.CLOSED, filled=i.amount, fills=(fill(i),))
            for i in tracked.values()
        ],
        "all cancelled": [
            OrderState(intent=i, status=OrderStatus.CANCELED) for i in tracked.values()
        ],
    }


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn``, in microseconds."""
    return median_s(repeat, fn) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    # The grid logs every adoption at warning level: measure the logic, not stderr.
    logging.disable(logging.CRITICAL)
    state = saved_state()
    tracked = restarted(state).tracked_orders()
    cases = snapshots(tracked)
    empty = dict(state, orders=[])  # a lost state: every open order is an orphan
    restore = timed(lambda: restarted(state), args.repeat)
    print(f"python {sys.version.split()[0]}; grid of {len(tracked)} open orders")
    print(f"{'case':<20} {'us total':>9} {'us reconcile':>13}  (total = restore + reconcile)")

    def row(name: str, total: float) -> None:
        print(f"{name:<20} {total:>9.0f} {total - restore:>13.0f}")

    for name, snapshot in cases.items():

        def run(snapshot: list[OrderState] = snapshot) -> None:
            grid = restarted(state)
            plan = plan_reconciliation("bench", grid.tracked_orders(), snapshot)
            apply_reconciliation(grid, plan, CancelPolicy.REPLACE)

        row(name, timed(run, args.repeat))

    def orphans() -> None:
        grid = restarted(empty)
        plan = plan_reconciliation("bench", grid.tracked_orders(), cases["agrees"])
        apply_reconciliation(grid, plan)

    row("all orphans", timed(orphans, args.repeat))
    print(f"{'baseline: restore':<20} {restore:>9.0f}  (from_state + initialize)")
    grid = restarted(state)
    encode = timed(lambda: msgspec.json.encode(grid.get_state()), args.repeat)
    print(f"{'baseline: save':<20} {encode:>9.0f}  (get_state + JSON, paid after every event)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
