"""Request weight per minute that 10 and 100 grids use on Binance, idle and active,
against its 6,000-a-minute IP limit; with the old polling as the baseline of the run.

    .venv/bin/python bench/request_weight.py [--grids 10 100] [--fills-per-grid-min 1]

Idle: the execution actor's open-order polls as ``PollPlan`` schedules them and the
market-data actor's tickers as ``market_poll_period`` paces them (one symbol per grid,
the worst case). Active: on top, each fill costs what the execution actor sends for it
(``myTrades`` of the symbol, 20; the counter order's look-up by client id, 4; its
placement, 1). The demand is fed through a real ``RequestBudget`` on a simulated clock
for ten minutes, so what it lets through per minute (never more than its 50 % share) is
measured, not assumed. The baseline is the polling before issue 14: every symbol's open
orders (80) and every ticker (2 to 80) once a second, no budget. Printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal

from gridsup.actors.request_budget import PollPlan, market_poll_period
from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.budget import RequestBudget, binance_weight

LIMIT = 6000
MINUTES = 10
PER_FILL = (
    binance_weight("fetch_my_trades")
    + binance_weight("fetch_order")
    + binance_weight("create_order")
)


def run_of(grids: int) -> RunConfig:
    specs = tuple(
        GridSpec(
            name=f"g{i}", grid_id=f"g{i}", symbol=f"S{i}/USDT", config={}, budget_quote=Decimal(1)
        )
        for i in range(grids)
    )
    return RunConfig(
        run_dir="",
        exchange_id="binance",
        mode=Mode.LIVE,
        db_url="",
        markets={},
        grids=specs,
        market_source="exchange",
    )


class SimClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def idle_demand(run: RunConfig) -> tuple[float, float]:
    """(execution, market data) weight per minute of the idle polling."""
    plan = PollPlan(run)
    execution = plan.round_weight * 60 / plan.round_s
    symbols = len({g.symbol for g in run.grids})
    market = binance_weight("fetch_tickers", symbols) * 60 / market_poll_period(run, symbols)
    return execution, market


def through_budget(demand_per_min: float, weight: int = 1) -> float:
    """Weight per minute a real RequestBudget lets through of a steady demand."""
    clock = SimClock()
    budget = RequestBudget(LIMIT, 0.5, clock=clock, sleep=clock.sleep)
    interval = 60 * weight / demand_per_min

    async def drive() -> None:
        due = 0.0
        while clock.now < MINUTES * 60:
            await budget.acquire(weight)
            due = max(due + interval, clock.now)
            clock.now = due

    asyncio.run(drive())
    return budget.spent / (clock.now / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--fills-per-grid-min", type=float, default=1.0)
    args = parser.parse_args()
    print(f"Binance weight limit {LIMIT}/min per IP; budget share 50 % ({LIMIT // 2}/min)")
    print(
        f"{'grids':>6} {'state':>7} {'baseline/min':>13} {'demand/min':>11} "
        f"{'sent/min':>9} {'% of limit':>10} {'vs baseline':>12}"
    )
    for grids in args.grids:
        run = run_of(grids)
        baseline = 80 * 60 + binance_weight("fetch_tickers", grids) * 60
        execution, market = idle_demand(run)
        for state, extra in (("idle", 0.0), ("active", grids * args.fills_per_grid_min * PER_FILL)):
            demand = execution + market + extra
            sent = through_budget(demand)
            base = baseline + extra
            print(
                f"{grids:>6} {state:>7} {base:>13.0f} {demand:>11.0f} {sent:>9.0f} "
                f"{100 * sent / LIMIT:>9.1f}% {sent / base:>11.2f}x"
            )
        plan = PollPlan(run)
        target = "every symbol at once" if plan.targets == [None] else "one symbol a request"
        print(
            f"{'':>6} open-order polls: {target}, a round every {plan.round_s:.1f} s; "
            f"tickers every {market_poll_period(run, grids):.1f} s"
        )


if __name__ == "__main__":
    main()
