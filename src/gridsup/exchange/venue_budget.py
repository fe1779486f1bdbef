"""Request budgets of OKX, Bybit and Kraken (issue 16; Binance's weight budget is
``budget.py``): each venue's published limits (``venue_rates.py``) as counters that
every process of the host shares, so that a grid stays within them and, when refused
anyway, backs off until the venue's retry time instead of retrying in a storm.

* before a request, :meth:`CounterBudget.take` adds the ccxt call's cost to each of
  its counters (``VenueLimits.costs``: a call that sends several requests costs them
  all), waiting until they fit;
* after an answer, :meth:`CounterBudget.observe` follows Bybit's ``X-Bapi-Limit-Status``:
  nothing left of an endpoint's limit pauses every caller until its reset timestamp;
* on a rate-limit answer, :meth:`CounterBudget.refused` fills the call's counters (as
  if the venue had counted the refused request too) and pauses every caller until the
  venue's retry time: Retry-After, or Bybit's reset timestamp, or, when the venue names
  none, ``refusal_pause_s`` (OKX: its 2 s window; Bybit's IP ban: 30 minutes).

The state is a JSON file in the run directory (``budget-<exchange>.json``), read and
written under an exclusive ``flock`` as Binance's (``budget_state.FileStore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from gridsup.exchange.budget import DEFAULT_SHARE
from gridsup.exchange.budget_state import check_share, header_value, refusal_figures, state_store
from gridsup.exchange.venue_rates import VenueLimits

__all__ = ["CounterBudget"]

log = structlog.get_logger("gridsup.exchange.venue_budget")

_EPSILON = 1e-9


@dataclass(slots=True)
class _Counters:
    levels: dict[str, tuple[float, float]] = field(default_factory=dict)  # (level, at)
    paused_until: float = 0.0  # epoch seconds
    http_429: int = 0  # rate-limit answers seen by any process of the run
    http_418: int = 0  # ban answers (Binance's 418, Bybit's 403), likewise
    ban_until: float = 0.0  # end of the last ban (a rate-limit pause is no ban)


def _load(data: dict[str, Any]) -> _Counters:
    levels = {str(k): (float(v[0]), float(v[1])) for k, v in data.get("levels", {}).items()}
    return _Counters(
        levels,
        float(data.get("paused_until", 0.0)),
        int(data.get("http_429", 0)),
        int(data.get("http_418", 0)),
        float(data.get("ban_until", 0.0)),
    )


def _dump(state: _Counters) -> dict[str, Any]:
    return {
        "levels": state.levels,
        "paused_until": state.paused_until,
        "http_429": state.http_429,
        "http_418": state.http_418,
        "ban_until": state.ban_until,
    }


class CounterBudget:
    """The request budget of a venue with counter limits; see the module docstring.

    Raises (on construction):
        ValueError: ``share`` is not in (0, 1].
    """

    def __init__(
        self,
        limits: VenueLimits,
        share: float = DEFAULT_SHARE,
        *,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        check_share(share)
        self.limits = limits
        self.share = share
        self.ccxt_rate_limit_ms = limits.ccxt_rate_limit_ms
        self._buckets = {lim.name: lim.bucket(share) for lim in limits.limits}
        self._store = state_store(path, _Counters, _load, _dump)
        self._clock, self._sleep = clock, sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turns: dict[str, asyncio.Lock] = {}
        self.waits = 0
        self.waited_s = 0.0
        self.bans = 0  # rate-limit answers seen by this process
        self.sent = 0  # calls this process sent

    def _level(self, state: _Counters, name: str, now: float) -> float:
        level, at = state.levels.get(name, (0.0, now))
        _, per_s = self._buckets[name]
        return max(0.0, level - max(0.0, now - at) * per_s)

    def _costs(self, op: str) -> dict[str, float]:
        return {k: v for k, v in self.limits.cost(op).items() if k in self._buckets and v}

    def _take(self, op: str) -> float:
        """Count ``op`` if it fits now; else the seconds to wait (nothing counted)."""
        now = self._clock()
        costs = self._costs(op)

        def step(state: _Counters) -> float:
            if now < state.paused_until:
                return state.paused_until - now
            wait = 0.0
            levels = {name: self._level(state, name, now) for name in costs}
            for name, cost in costs.items():
                capacity, per_s = self._buckets[name]
                # a call costlier than the bucket passes when the bucket is empty
                room = max(capacity - cost, 0.0)
                if levels[name] > room + _EPSILON:
                    wait = max(wait, (levels[name] - room) / per_s)
            if wait > 0:
                return wait
            for name, cost in costs.items():
                state.levels[name] = (levels[name] + cost, now)
            return 0.0

        wait: float = self._store.update(step)
        return wait

    async def take(self, op: str, symbols: int | None = None) -> None:
        """Count the ccxt call ``op`` on its counters, waiting while any of them is too
        full for it or every caller is paused. Callers of this process wait their turn
        on each counter in order of arrival: a costlier call (a look-up, 2 on Kraken's
        counter) is never starved by a stream of cheaper ones (polls, 1)."""
        async with contextlib.AsyncExitStack() as turns:
            for name in sorted(self._costs(op)):
                await turns.enter_async_context(self._turn(name))
            while (wait := self._take(op)) > 0:
                self.waits += 1
                self.waited_s += wait
                await self._sleep(wait)
        self.sent += 1

    def _turn(self, name: str) -> asyncio.Lock:
        """The FIFO turn on counter ``name`` (locks belong to one event loop: a new loop,
        e.g. a test's next ``asyncio.run``, gets new ones)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._turns = loop, {}
        lock = self._turns.get(name)
        if lock is None:
            lock = self._turns[name] = asyncio.Lock()
        return lock

    def observe(self, headers: Mapping[str, Any] | None) -> None:
        """Nothing left of an endpoint's limit (Bybit ``X-Bapi-Limit-Status: 0``):
        every caller waits for its reset timestamp."""
        remaining = header_value(headers, self.limits.remaining_header)
        if remaining is None or remaining.strip() != "0":
            return
        reset = _epoch_ms(header_value(headers, self.limits.reset_header))
        if reset is not None and reset > self._clock():
            self._pause(reset, "limit_used_up")

    def refused(
        self,
        op: str,
        retry_after: float | None,
        headers: Mapping[str, Any] | None = None,
        status: str = "429",
    ) -> float:
        """The venue refused ``op`` for the rate: its counters are taken as full (the
        refused request counted too) and every caller waits for the venue's retry time
        (Retry-After, the reset timestamp, or the venue's own pause). Returns the epoch
        second the pause ends."""
        now = self._clock()
        costs = self._costs(op)

        banned = status in ("403", "418")

        def fill(state: _Counters) -> None:
            for name, cost in costs.items():
                capacity, _ = self._buckets[name]
                level = max(self._level(state, name, now), capacity)
                state.levels[name] = (level + cost, now)
            if banned:
                state.http_418 += 1
            else:
                state.http_429 += 1

        self._store.update(fill)
        self.bans += 1
        reset = _epoch_ms(header_value(headers, self.limits.reset_header))
        if retry_after is not None:
            until = now + retry_after
        elif reset is not None and reset > now:
            until = reset
        elif banned:
            until = now + self.limits.ban_pause_s
        else:
            until = now + self.limits.refusal_pause_s
        if banned:

            def mark(state: _Counters) -> None:
                state.ban_until = max(state.ban_until, until)

            self._store.update(mark)
        return self._pause(until, status)

    def _pause(self, until: float, why: str) -> float:
        def step(state: _Counters) -> float:
            state.paused_until = max(state.paused_until, until)
            return state.paused_until

        end: float = self._store.update(step)
        log.warning(
            "request_budget_paused",
            exchange=self.limits.venue,
            status=why,
            retry_after_s=round(max(0.0, end - self._clock()), 3),
            until=end,
        )
        return end

    def snapshot(self) -> dict[str, float | int]:
        """The counters' use now (fraction of each bucket) and the seconds left of a
        pause."""
        now = self._clock()

        def step(state: _Counters) -> dict[str, float | int]:
            used = {
                f"{name}_used": round(self._level(state, name, now) / self._buckets[name][0], 3)
                for name in self._buckets
            }
            return {**used, "banned_s": round(max(0.0, state.paused_until - now), 3)}

        figures: dict[str, float | int] = self._store.update(step)
        return figures

    def status(self) -> dict[str, int]:
        """The run's rate-limit and ban answers so far and the end of the last ban (ms
        since the epoch; 0: none), under their telemetry keys; these venues publish no
        weight, so weight used and limit are not reported."""

        def step(state: _Counters) -> dict[str, int]:
            return refusal_figures(state.http_429, state.http_418, state.ban_until)

        figures: dict[str, int] = self._store.update(step)
        return figures

    def __repr__(self) -> str:
        return f"CounterBudget({self.limits.venue}, share={self.share}, waits={self.waits})"


def _epoch_ms(value: str | None) -> float | None:
    """Epoch seconds from an epoch-milliseconds header (None if absent or unreadable)."""
    if value is None:
        return None
    try:
        return int(value.strip()) / 1000
    except ValueError:
        return None
