"""The request budgets of OKX, Bybit and Kraken (exchange/venue_budget.py, the limits in
venue_rates.py), on a fake clock: each venue's published limits kept (a window's count
never passed, Kraken's counter followed), and a rate-limit answer pausing every caller,
in every process sharing the file, until the venue's retry time."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from gridsup.exchange.venue_budget import CounterBudget
from gridsup.exchange.venue_rates import (
    BYBIT_LIMITS,
    KRAKEN_LIMITS,
    OKX_LIMITS,
    VenueLimits,
    counter_poll_period,
)
from helpers import FakeTime

START = 1_000_000.0


def budget(fake: FakeTime, limits: VenueLimits, path: Path | None = None) -> CounterBudget:
    return CounterBudget(limits, 0.5, path=path, clock=fake.clock, sleep=fake.sleep)


def sent_at(fake: FakeTime, b: CounterBudget, op: str, n: int) -> list[float]:
    """When each of ``n`` calls of ``op`` was let through."""
    times: list[float] = []

    async def send() -> None:
        for _ in range(n):
            await b.take(op)
            times.append(fake.now)

    asyncio.run(send())
    return times


def test_krakens_counter_lets_half_its_maximum_through_then_its_decay() -> None:
    fake = FakeTime(START)
    b = budget(fake, KRAKEN_LIMITS)

    times = sent_at(fake, b, "fetch_balance", 10)
    orders = sent_at(fake, b, "create_order", 20)  # the order counter is another one

    assert times[:7] == [times[0]] * 7  # 7 of the 7.5 the share allows, at once
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times[7:])]
    assert times[7] - times[0] == pytest.approx(0.5 / 0.33)
    assert gaps == [round(1 / 0.33, 3)] * 2  # then one call per 1 / 0.33 s
    assert orders == [orders[0]] * 20


@pytest.mark.parametrize(
    ("limits", "op", "limit", "window"),
    [
        (OKX_LIMITS, "fetch_my_trades", 10, 2.0),  # fills-history: 10 per 2 s
        (OKX_LIMITS, "fetch_open_orders", 60, 2.0),
        (BYBIT_LIMITS, "create_order", 20, 1.0),  # order/create: 20 per s
    ],
)
def test_a_window_limit_is_never_passed_in_any_window(
    limits: VenueLimits, op: str, limit: int, window: float
) -> None:
    fake = FakeTime(START)
    b = budget(fake, limits)

    times = sent_at(fake, b, op, 5 * limit)

    most = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert most <= limit
    assert times[-1] - times[0] == pytest.approx((5 * limit - limit / 2) / (limit / 2) * window)


@pytest.mark.parametrize(
    ("limits", "retry_after", "headers", "status", "pause"),
    [
        (OKX_LIMITS, None, {}, "429", 2.0),  # OKX names no time: its window
        (OKX_LIMITS, 7.0, {}, "429", 7.0),  # a Retry-After wins
        (BYBIT_LIMITS, None, {"X-Bapi-Limit-Reset-Timestamp": "1000000750"}, "429", 0.75),
        (BYBIT_LIMITS, None, {}, "403", 1800.0),  # the IP ban
        (KRAKEN_LIMITS, None, {}, "429", 2 / 0.33),  # the counter, taken as full
    ],
)
def test_a_refusal_pauses_every_caller_until_the_venues_retry_time(
    limits: VenueLimits,
    retry_after: float | None,
    headers: dict[str, str],
    status: str,
    pause: float,
) -> None:
    fake = FakeTime(START)
    b = budget(fake, limits)

    b.refused("fetch_balance", retry_after, headers, status)
    others = sent_at(fake, b, "fetch_balance", 1)

    assert others[0] - 1_000_000.0 == pytest.approx(pause)
    assert b.bans == 1


def test_bybits_limit_used_up_pauses_until_its_reset_and_the_file_shares_it(
    tmp_path: Path,
) -> None:
    fake = FakeTime(START)
    path = tmp_path / "budget-bybit.json"
    execution, market = budget(fake, BYBIT_LIMITS, path), budget(fake, BYBIT_LIMITS, path)

    execution.observe({"X-Bapi-Limit-Status": "7", "X-Bapi-Limit-Reset-Timestamp": "1000000900"})
    free = sent_at(fake, market, "fetch_tickers", 1)
    execution.observe({"x-bapi-limit-status": "0", "x-bapi-limit-reset-timestamp": "1000000900"})
    paused = sent_at(fake, market, "fetch_tickers", 1)

    assert free == [1_000_000.0]
    assert paused == [pytest.approx(1_000_000.9)]
    assert market.snapshot()["banned_s"] == 0


def test_the_scaled_limits_run_a_venue_faster() -> None:
    fast = KRAKEN_LIMITS.scaled(0.1)

    assert fast.limits[0].decay_per_s == pytest.approx(3.3)
    assert OKX_LIMITS.scaled(0.1).refusal_pause_s == pytest.approx(0.2)


def test_a_costly_call_is_not_starved_by_a_stream_of_cheap_ones() -> None:
    fake = FakeTime(START)
    b = budget(fake, KRAKEN_LIMITS)
    done: list[str] = []

    async def poller() -> None:
        for _ in range(20):
            await b.take("fetch_open_orders")  # 1 on Kraken's call counter
            done.append("poll")

    async def lookup() -> None:
        await asyncio.sleep(0)  # arrives after the pollers have started
        await b.take("fetch_order")  # 2: open, then closed orders
        done.append("lookup")

    async def run() -> None:
        await asyncio.gather(poller(), poller(), poller(), lookup())

    asyncio.run(run())

    # 7 polls fit at once (the share of the burst), then each waiter in its turn: the
    # look-up comes after those queued before it (a handful), not after all 60
    assert done.index("lookup") <= 7 + 3 + 3


def test_the_idle_polls_follow_each_venues_counters() -> None:
    kraken = counter_poll_period(KRAKEN_LIMITS, "fetch_open_orders", 0.5, 0.25, 0.2)
    okx = counter_poll_period(OKX_LIMITS, "fetch_open_orders", 0.5, 0.25, 0.2)

    assert kraken == pytest.approx(1 / (0.33 * 0.25))  # ~12 s: Kraken's Starter decay
    assert okx == pytest.approx(0.2667, abs=1e-3)  # 60 per 2 s, half of it, a quarter
