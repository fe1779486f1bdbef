"""Which request budget a run gets on each venue (actors/request_budget.py), and how the
execution and market-data actors' idle polls follow OKX's, Bybit's and Kraken's
counters: Kraken's Starter counter slows the open-order poll to one call every ~12 s,
OKX and Bybit stay at the configured floor."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gridsup.actors.request_budget import PollPlan, market_poll_period, run_budget
from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.budget import RequestBudget
from gridsup.exchange.venue_budget import CounterBudget


def run_on(exchange_id: str, run_dir: str = "", symbols: int = 1) -> RunConfig:
    specs = tuple(
        GridSpec(
            name=f"g{i}", grid_id=f"g{i}", symbol=f"S{i}/USDT", config={}, budget_quote=Decimal(1)
        )
        for i in range(symbols)
    )
    return RunConfig(
        run_dir=run_dir,
        exchange_id=exchange_id,
        mode=Mode.LIVE,
        db_url="",
        markets={},
        grids=specs,
        market_source="exchange",
        poll_interval_ms=200,
        tick_interval_ms=100,
    )


@pytest.mark.parametrize(
    ("venue", "kind"),
    [
        ("binance", RequestBudget),
        ("okx", CounterBudget),
        ("bybit", CounterBudget),
        ("kraken", CounterBudget),
        ("bitstamp", type(None)),
    ],
)
def test_each_venue_gets_its_own_budget_shared_through_the_run_dir(
    venue: str, kind: type, tmp_path: Path
) -> None:
    budget = run_budget(run_on(venue, str(tmp_path)))

    assert isinstance(budget, kind)
    if budget is not None:
        assert budget.snapshot() is not None
        assert (tmp_path / f"budget-{venue}.json").exists()


@pytest.mark.parametrize(
    ("venue", "poll_s", "ticker_s"),
    [
        ("kraken", 1 / (0.33 * 0.25), 2.0),  # a quarter of the call counter, half the public
        ("okx", 0.2667, 0.4),  # orders-pending 60 per 2 s; tickers 20 per 2 s
        ("bybit", 0.2, 0.1),  # the floors: 50 per s is far
    ],
)
def test_idle_polls_follow_the_venues_counters(venue: str, poll_s: float, ticker_s: float) -> None:
    run = run_on(venue)

    assert PollPlan(run).round_s == pytest.approx(poll_s, abs=1e-3)
    assert market_poll_period(run, 1) == pytest.approx(ticker_s, abs=1e-3)
