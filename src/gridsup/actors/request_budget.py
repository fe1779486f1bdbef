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
from gridsup.exchange.budget import (
    Budget,
    RequestBudget,
    binance_weight,
    poll_period,
    weight_limit_of,
)
from gridsup.exchange.venue_budget import CounterBudget
from gridsup.exchange.venue_rates import counter_poll_period, venue_limits_of

__all__ = [
    "COUNTER_EXECUTION_IDLE_SHARE",
    "COUNTER_MARKET_IDLE_SHARE",
    "EXECUTION_IDLE_SHARE",
    "MARKET_IDLE_SHARE",
    "PollPlan",
    "market_poll_period",
    "run_budget",
    "weight_limit",
]

EXECUTION_IDLE_SHARE = 0.06  # of the weight limit per minute, for idle open-order polls
MARKET_IDLE_SHARE = 0.04  # for the market-data actor's tickers
# On a venue with counters (OKX, Bybit, Kraken: venue_budget.py), of the drain of the
# counters the call uses: the open-order poll shares Kraken's call counter with every
# look-up and balance, the tickers have OKX's tickers counter or Kraken's public one
# to themselves.
COUNTER_EXECUTION_IDLE_SHARE = 0.25
COUNTER_MARKET_IDLE_SHARE = 0.5


def weight_limit(run: RunConfig) -> int | None:
    """The weight limit per minute the run budgets for (None: no budget)."""
    if run.request_weight_limit is not None:
        return run.request_weight_limit
    return weight_limit_of(run.exchange_id)


def run_budget(run: RunConfig) -> Budget | None:
    """This process's handle on the run's shared budget: Binance's weight per minute (or
    a configured ``weight_limit``), OKX's, Bybit's and Kraken's counters
    (``venue_budget``); None when the venue publishes no limit gridsup knows and none is
    configured. A dry run on a real exchange id has one too: its market data still
    polls the real exchange.

    Raises:
        ValueError: the configured limit or share is out of range.
    """
    path = Path(run.run_dir) / f"budget-{run.exchange_id}.json" if run.run_dir else None
    limit = weight_limit(run)
    if limit is not None:
        weigh = binance_weight if run.exchange_id.startswith("binance") else _one
        return RequestBudget(limit, run.request_budget_share, path=path, weigh=weigh)
    limits = venue_limits_of(run.exchange_id)
    if limits is None:  # the paper exchange, or a venue without a published limit
        return None
    return CounterBudget(limits, run.request_budget_share, path=path)


def _one(op: str, symbols: int | None) -> int:
    return 1


def _weight(run: RunConfig, op: str, symbols: int | None) -> int:
    return binance_weight(op, symbols) if run.exchange_id.startswith("binance") else 1


def market_poll_period(run: RunConfig, symbols: int) -> float:
    """Seconds between the market-data actor's ticker requests."""
    floor = run.tick_interval_ms / 1000
    limit = weight_limit(run)
    if limit is None:
        counters = venue_limits_of(run.exchange_id)
        if counters is None:
            return floor
        share = run.request_budget_share
        return counter_poll_period(
            counters, "fetch_tickers", share, COUNTER_MARKET_IDLE_SHARE, floor
        )
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
        counters = venue_limits_of(run.exchange_id) if limit is None else None
        if counters is not None:
            self.round_s = counter_poll_period(
                counters,
                "fetch_open_orders",
                run.request_budget_share,
                COUNTER_EXECUTION_IDLE_SHARE,
                floor,
            ) * len(self.targets)
        elif limit is None:
            self.round_s = floor
        else:
            self.round_s = poll_period(round_weight, limit, EXECUTION_IDLE_SHARE, floor)
        self.delay = self.round_s / len(self.targets)
        self._next = 0

    def next(self) -> str | None:
        """The symbol to poll now (None: every symbol at once)."""
        target = self.targets[self._next]
        self._next = (self._next + 1) % len(self.targets)
        return target
