"""One request budget per exchange account and IP on this host (issue 14, design
invariant 7).

Binance counts request *weight* per IP per minute (6,000) and answers every request
with the weight used so far in the current minute (``X-MBX-USED-WEIGHT-1M``). Past the
limit it answers 429 with a Retry-After, and a client that keeps going is banned: 418,
with a Retry-After that grows with each ban. Every process on the host that talks to
the exchange (the execution actor, the market-data actor, ``gridsup start``'s checks)
spends from the same allowance, so they share one budget:

* before a request, :meth:`RequestBudget.acquire` takes its weight, waiting for the next
  minute when the request would take the minute's use past ``share`` of the limit
  (default 50 %: the rest is headroom for people and other tools on the IP);
* after a response, :meth:`RequestBudget.observe` follows the exchange's own count from
  the header (it counts every request of the IP, ours in other processes and anyone
  else's), never going below our own count for the minute;
* on a 429 or 418, :meth:`RequestBudget.ban` stops *every* caller until Retry-After has
  passed (60 s when the answer names none), then they resume by themselves, and counts
  the answer, so the run's 429/418 counts (:meth:`RequestBudget.status`, for the
  metrics and alerts) are every process's.

The shared state is a small JSON file in the run directory (``budget-<exchange>.json``)
read and written under an exclusive ``flock``; a budget without a path keeps it in memory
(one process, tests). The clock and the sleep are injectable.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from gridsup.exchange.budget_state import check_share, header_value, refusal_figures, state_store
from gridsup.messages import telemetry

__all__ = [
    "BINANCE_WEIGHTS",
    "DEFAULT_SHARE",
    "Budget",
    "RequestBudget",
    "binance_weight",
    "poll_period",
    "weight_limit_of",
]

log = structlog.get_logger("gridsup.exchange.budget")

DEFAULT_SHARE = 0.5
BAN_WITHOUT_RETRY_AFTER_S = 60.0
WINDOW_S = 60.0
_WEIGHT_HEADER = "x-mbx-used-weight-1m"

# Binance spot REST request weights (developers.binance.com, "General API Information"
# and each endpoint's "Weight"), by the ccxt call that sends the request. Calls whose
# weight depends on their arguments are in :func:`binance_weight`.
BINANCE_WEIGHTS: dict[str, int] = {
    "load_markets": 20,  # GET /api/v3/exchangeInfo
    "fetch_ticker": 2,  # GET /api/v3/ticker/24hr?symbol=
    "fetch_ohlcv": 2,  # GET /api/v3/klines
    "create_order": 1,  # POST /api/v3/order (also counts toward the order-rate limits)
    "cancel_order": 1,  # DELETE /api/v3/order
    "fetch_order": 4,  # GET /api/v3/order
    "fetch_my_trades": 20,  # GET /api/v3/myTrades
    "fetch_order_trades": 5,  # GET /api/v3/myTrades?orderId=
    "fetch_balance": 20,  # GET /api/v3/account
    "load_time_difference": 1,  # GET /api/v3/time
}
_BINANCE_LIMIT = 6000  # REQUEST_WEIGHT per minute per IP


class Budget(Protocol):
    """What ``CcxtExchange`` asks of a request budget around every request: Binance's
    weight budget (:class:`RequestBudget`) or another venue's counters
    (``venue_budget.CounterBudget``)."""

    # ccxt's own request spacing to use behind this budget (None: ccxt's default)
    ccxt_rate_limit_ms: float | None

    async def take(self, op: str, symbols: int | None = None) -> None:
        """Wait until the ccxt call ``op`` may be sent, and count it."""
        ...

    def observe(self, headers: Mapping[str, Any] | None) -> None:
        """Follow what the answer's headers say of the limits."""
        ...

    def refused(
        self,
        op: str,
        retry_after: float | None,
        headers: Mapping[str, Any] | None = None,
        status: str = "429",
    ) -> float:
        """The venue refused ``op`` for the rate: every caller waits; returns the epoch
        second the pause ends."""
        ...

    def snapshot(self) -> dict[str, float | int]:
        """The shared figures now (for status)."""
        ...

    def status(self) -> dict[str, int]:
        """The shared figures under their telemetry keys (metrics and alerts)."""
        ...


def binance_weight(op: str, symbols: int | None = None) -> int:
    """The weight of one ccxt call ``op``; ``symbols`` is the number of symbols asked
    for by a call that takes several (None: every symbol, or not applicable).

    Unknown calls weigh 1 (and the header corrects the count).
    """
    if op == "fetch_open_orders":
        return 80 if symbols is None else 6
    if op == "fetch_tickers":  # GET /api/v3/ticker/24hr?symbols=[...]
        if symbols is None or symbols > 100:
            return 80
        return 2 if symbols <= 20 else 40
    return BINANCE_WEIGHTS.get(op, 1)


def weight_limit_of(exchange_id: str) -> int | None:
    """The venue's published weight limit per minute (None: not known; no budget)."""
    return _BINANCE_LIMIT if exchange_id.startswith("binance") else None


def poll_period(round_weight: int, limit: int, idle_share: float, floor_s: float) -> float:
    """Seconds between rounds of an idle poll that weighs ``round_weight`` so that it
    uses at most ``idle_share`` of ``limit`` per minute (never faster than ``floor_s``).
    This is how the period grows with the number of symbols polled."""
    per_minute = limit * idle_share
    return max(floor_s, round_weight * WINDOW_S / per_minute)


@dataclass(slots=True)
class _State:
    window: int = 0  # index of the current minute (epoch seconds // 60)
    used: int = 0  # weight used in that minute (ours, or the header's if higher)
    banned_until: float = 0.0  # epoch seconds
    http_429: int = 0  # rate-limit answers seen by any process of the run
    http_418: int = 0  # ban answers, likewise
    ban_418_until: float = 0.0  # end of the last 418 ban (a 429's pause is no ban)

    def roll(self, now: float) -> None:
        window = int(now // WINDOW_S)
        if window != self.window:
            self.window, self.used = window, 0


_DEFAULTS: dict[str, int | float] = asdict(_State())


def _load_state(data: dict[str, Any]) -> _State:
    # Each field converted to its default's type; fields the file lacks (written by an
    # older gridsup) keep their default.
    state = _State()
    for name, default in _DEFAULTS.items():
        if name in data:
            setattr(state, name, type(default)(data[name]))
    return state


def _dump_state(state: _State) -> dict[str, Any]:
    return asdict(state)


class RequestBudget:
    """Weight budget of one exchange account and IP; see the module docstring.

    Raises (on construction):
        ValueError: ``limit`` is not positive or ``share`` is not in (0, 1].
    """

    def __init__(
        self,
        limit: int,
        share: float = DEFAULT_SHARE,
        *,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        weigh: Callable[[str, int | None], int] = binance_weight,
    ) -> None:
        if limit <= 0:
            raise ValueError(f"request weight limit must be > 0, got {limit}")
        check_share(share)
        self.limit = limit
        self.share = share
        self.cap = max(1, math.floor(limit * share))
        self._store = state_store(path, _State, _load_state, _dump_state)
        self._weigh = weigh
        self.ccxt_rate_limit_ms: float | None = None  # ccxt's default spacing
        self._clock, self._sleep = clock, sleep
        self.waits = 0  # acquisitions that had to wait (budget spent or banned)
        self.waited_s = 0.0
        self.bans = 0  # 429/418 answers seen by this process
        self.spent = 0  # weight this process sent

    def _take(self, weight: int) -> float:
        """Take ``weight`` if allowed now; else the seconds to wait (nothing taken)."""
        now = self._clock()

        def step(state: _State) -> float:
            if now < state.banned_until:
                return state.banned_until - now
            state.roll(now)
            if state.used + weight > self.cap and state.used > 0:
                return (state.window + 1) * WINDOW_S - now  # the next minute
            state.used += weight
            return 0.0

        wait: float = self._store.update(step)
        return wait

    async def acquire(self, weight: int = 1) -> None:
        """Take ``weight`` from the budget, waiting while the IP is banned or the
        minute's share is spent."""
        while (wait := self._take(weight)) > 0:
            self.waits += 1
            self.waited_s += wait
            await self._sleep(wait)
        self.spent += weight

    async def take(self, op: str, symbols: int | None = None) -> None:
        """Take the weight of the ccxt call ``op`` (``weigh``: Binance's table; 1 a
        call on a venue without one), waiting as :meth:`acquire`."""
        await self.acquire(self._weigh(op, symbols))

    def refused(
        self,
        op: str,
        retry_after: float | None,
        headers: Mapping[str, Any] | None = None,
        status: str = "429",
    ) -> float:
        """The exchange refused ``op`` for the rate: :meth:`ban` until Retry-After."""
        return self.ban(retry_after, status)

    def observe(self, headers: Mapping[str, Any] | None) -> None:
        """Follow the exchange's count of the minute (``X-MBX-USED-WEIGHT-1M``)."""
        value = header_value(headers, _WEIGHT_HEADER)
        if value is None:
            return
        try:
            used = int(value.strip())
        except ValueError:
            return
        now = self._clock()

        def step(state: _State) -> None:
            state.roll(now)
            state.used = max(state.used, used)

        self._store.update(step)

    def ban(self, retry_after: float | None, status: str = "429") -> float:
        """The exchange refused for the rate (``status`` "429", or "418": banned):
        nobody sends until Retry-After has passed. Returns the epoch second the pause
        ends."""
        seconds = BAN_WITHOUT_RETRY_AFTER_S if retry_after is None else max(retry_after, 0.0)
        until = self._clock() + seconds

        def step(state: _State) -> float:
            state.banned_until = max(state.banned_until, until)
            if status == "418":
                state.http_418 += 1
                state.ban_418_until = max(state.ban_418_until, until)
            else:
                state.http_429 += 1
            return state.banned_until

        end: float = self._store.update(step)
        self.bans += 1
        log.warning("request_budget_paused", status=status, retry_after_s=seconds, until=end)
        return end

    def snapshot(self) -> dict[str, float | int]:
        """The shared figures now (for status): weight used this minute, the cap, and
        the seconds left of a ban."""
        now = self._clock()

        def step(state: _State) -> tuple[int, float]:
            state.roll(now)
            return state.used, max(0.0, state.banned_until - now)

        used, banned = self._store.update(step)
        return {
            "weight_used_1m": used,
            "weight_cap_1m": self.cap,
            "weight_limit_1m": self.limit,
            "banned_s": round(banned, 3),
        }

    def status(self) -> dict[str, int]:
        """The shared figures under their status keys (``gridsup.messages.telemetry``):
        weight used this minute and the venue's limit, the run's 429/418 answers so
        far, and the end of the last 418 ban (ms since the epoch; 0: none)."""
        now = self._clock()

        def step(state: _State) -> dict[str, int]:
            state.roll(now)
            return {
                telemetry.WEIGHT_USED: state.used,
                telemetry.WEIGHT_LIMIT: self.limit,
                **refusal_figures(state.http_429, state.http_418, state.ban_418_until),
            }

        figures: dict[str, int] = self._store.update(step)
        return figures

    def __repr__(self) -> str:
        return f"RequestBudget(cap={self.cap}/{self.limit} per min, waits={self.waits})"
