"""How the actors of one run share the host's request budget (issue 14, invariant 7).

The execution actor and the market-data actor are separate processes with a ccxt client
each, on the same IP and (for private calls) the same account. Each opens a
:class:`RequestBudget` over the same file in the run directory, ``budget-<exchange>.json``:
the minute's used weight and any 429/418 pause live there, under a file lock, so a ban
seen by one stops the other too, and the exchange's weight header read by either
corrects the count for both. The idle polling of each is paced from the same limit:
:data:`EXECUTION_IDLE_SHARE` for the open-order polls, :data:`MARKET_IDLE_SHARE` for the
tickers, 10 % of the limit together, however many grids and symbols (the period grows
with them: see :class:`PollPlan`).
"""

from __future__ import annotations

from pathlib import Path

from gridsup.actors.run_config import RunConfig
from gridsup.exchange.budget import RequestBudget, binance_weight, poll_period, weight_limit_of

__all__ = [
    "EXECUTION_IDLE_SHARE",
    "MARKET_IDLE_SHARE",
    "PollPlan",
    "market_poll_period",
    "run_budget",
    "weight_limit",
]

EXECUTION_IDLE_SHARE = 0.06  # of the weight limit per minute, for idle open-order polls
MARKET_IDLE_SHARE = 0.04  # for the market-data actor's tickers


def weight_limit(run: RunConfig) -> int | None:
    """The weight limit per minute the run budgets for (None: no budget)."""
    if run.request_weight_limit is not None:
        return run.request_weight_limit
    return weight_limit_of(run.exchange_id)


def run_budget(run: RunConfig) -> RequestBudget | None:
    """This process's handle on the run's shared budget (None: the venue publishes no
    limit and none is configured). A dry run on a real exchange id has one too: its
    market data still polls the real exchange.

    Raises:
        ValueError: the configured limit or share is out of range.
    """
    limit = weight_limit(run)
    if limit is None:  # the paper exchange, or a venue without a published limit
        return None
    path = Path(run.run_dir) / f"budget-{run.exchange_id}.json" if run.run_dir else None
    return RequestBudget(limit, run.request_budget_share, path=path)


def _weight(run: RunConfig, op: str, symbols: int | None) -> int:
    return binance_weight(op, symbols) if run.exchange_id.startswith("binance") else 1


def market_poll_period(run: RunConfig, symbols: int) -> float:
    """Seconds between the market-data actor's ticker requests."""
    floor = run.tick_interval_ms / 1000
    limit = weight_limit(run)
    if limit is None:
        return floor
    return poll_period(_weight(run, "fetch_tickers", symbols), limit, MARKET_IDLE_SHARE, floor)


class PollPlan:
    """Which open-order list the execution actor asks for next, and how long it waits
    before: one symbol at a time, in turn, or every symbol in one request when that
    weighs less (Binance: 6 per symbol, 80 for all: from 14 symbols on). A round over
    every symbol takes at least ``poll_interval_ms`` and long enough to stay within
    :data:`EXECUTION_IDLE_SHARE` of the limit."""

    def __init__(self, run: RunConfig) -> None:
        symbols = sorted({g.symbol for g in run.grids})
        floor = run.poll_interval_ms / 1000
        limit = weight_limit(run)
        per_symbol = sum(_weight(run, "fetch_open_orders", 1) for _ in symbols)
        every = _weight(run, "fetch_open_orders", None)
        if limit is None or not symbols or every < per_symbol:
            self.targets: list[str | None] = [None]
            round_weight = every
        else:
            self.targets = list(symbols)
            round_weight = per_symbol
        self.round_weight = round_weight
        self.round_s = (
            floor
            if limit is None
            else poll_period(round_weight, limit, EXECUTION_IDLE_SHARE, floor)
        )
        self.delay = self.round_s / len(self.targets)
        self._next = 0

    def next(self) -> str | None:
        """The symbol to poll now (None: every symbol at once)."""
        target = self.targets[self._next]
        self._next = (self._next + 1) % len(self.targets)
        return target
