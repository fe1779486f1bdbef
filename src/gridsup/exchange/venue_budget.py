"""Request budgets of OKX, Bybit and Kraken (issue 16; Binance's weight budget is
``budget.py``): each venue's published limits as counters that every process of the
host shares, so that a grid stays within them and, when refused anyway, backs off
until the venue's retry time instead of retrying in a storm.

A venue's limit is either a count in a rolling window (OKX: N requests per 2 s per
endpoint; Bybit: N per second per endpoint and 600 per 5 s per IP) or a counter that
decays (Kraken: a call counter of 15 per key, -0.33 a second; an order counter of 60
per pair, -1 a second). Both are kept as a leaky bucket: a counter that may reach
``capacity`` and drains ``per_s`` a second. For a window of N per W seconds the bucket
holds ``share x N`` and drains ``share x N / W``: it then never lets more than N
through in any W seconds (``share`` <= 0.5), rolling window or fixed. Kraken's counter
is kept as Kraken keeps it, with ``share`` of its maximum (the rest for other tools
using the key).

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
written under an exclusive ``flock`` as Binance's (``budget.FileStore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog

from gridsup.exchange.budget import DEFAULT_SHARE, FileStore, MemoryStore

__all__ = [
    "BYBIT_LIMITS",
    "KRAKEN_LIMITS",
    "OKX_LIMITS",
    "VENUE_LIMITS",
    "CounterBudget",
    "Limit",
    "VenueLimits",
    "counter_poll_period",
    "venue_limits_of",
]

log = structlog.get_logger("gridsup.exchange.venue_budget")

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Limit:
    """One published limit: ``limit`` requests per ``window_s`` seconds (a rolling or
    fixed window), or, with ``decay_per_s``, a counter that may reach ``limit`` and
    decays that much a second (Kraken)."""

    name: str
    limit: float
    window_s: float = 0.0
    decay_per_s: float = 0.0

    def bucket(self, share: float) -> tuple[float, float]:
        """(capacity, drain per second) of the bucket that keeps within it."""
        capacity = self.limit * share
        if self.decay_per_s:
            return capacity, self.decay_per_s
        return capacity, capacity / self.window_s


@dataclass(frozen=True, slots=True)
class VenueLimits:
    """A venue's limits, what each ccxt call costs on which of them, and how long a
    refusal that names no time pauses every caller."""

    venue: str
    limits: tuple[Limit, ...]
    costs: Mapping[str, Mapping[str, float]]  # ccxt call -> {limit name: cost}
    default_cost: Mapping[str, float] = field(default_factory=dict)
    refusal_pause_s: float = 0.0  # a refusal without Retry-After or reset time
    ban_pause_s: float = 0.0  # an IP ban (HTTP 403/418) without Retry-After
    reset_header: str | None = None  # epoch ms when the refused limit resets (Bybit)
    remaining_header: str | None = None  # what is left of the endpoint's limit (Bybit)
    # ccxt's own request spacing behind this budget (None: ccxt's default). ccxt spaces
    # Kraken's private calls 3 s apart (its Starter decay, no burst) in each process;
    # the budget keeps Kraken's counter itself, burst included, for every process.
    ccxt_rate_limit_ms: float | None = None

    def cost(self, op: str) -> Mapping[str, float]:
        return self.costs.get(op, self.default_cost)

    def scaled(self, time_scale: float) -> VenueLimits:
        """The same limits with every duration times ``time_scale`` (as the loopback's
        ``time_scale``: tests run a venue's minute in a second)."""
        return replace(
            self,
            limits=tuple(
                replace(
                    lim,
                    window_s=lim.window_s * time_scale,
                    decay_per_s=lim.decay_per_s / time_scale,
                )
                for lim in self.limits
            ),
            refusal_pause_s=self.refusal_pause_s * time_scale,
            ban_pause_s=self.ban_pause_s * time_scale,
        )


def _okx(*paths: str) -> dict[str, float]:
    return dict.fromkeys(paths, 1.0)


# OKX v5 (docs: "Rate limit" of each endpoint): requests per 2 s, per user (public data
# per IP). Refused: HTTP 429, code 50011, no time named: wait out the window.
OKX_LIMITS = VenueLimits(
    venue="okx",
    limits=(
        Limit("public/time", 10, 2),
        Limit("public/instruments", 20, 2),
        Limit("market/ticker", 20, 2),
        Limit("market/tickers", 20, 2),
        Limit("account/balance", 10, 2),
        Limit("trade/order", 60, 2),
        Limit("trade/batch-orders", 60, 2),
        Limit("trade/cancel-order", 60, 2),
        Limit("trade/orders-pending", 60, 2),
        Limit("trade/fills-history", 10, 2),
    ),
    costs={
        "load_markets": _okx("public/instruments"),
        "load_time_difference": _okx("public/time"),
        "fetch_ticker": _okx("market/ticker"),
        "fetch_tickers": _okx("market/tickers"),
        "fetch_balance": _okx("account/balance"),
        "create_order": _okx("trade/batch-orders"),
        "cancel_order": _okx("trade/order", "trade/cancel-order"),
        "fetch_order": _okx("trade/order"),
        "fetch_open_orders": _okx("trade/orders-pending"),
        "fetch_my_trades": _okx("trade/fills-history"),
        "fetch_order_trades": _okx("trade/fills-history"),
    },
    refusal_pause_s=2.0,
)

# Bybit v5 (spot, unified account): requests per second per UID by endpoint (rolling),
# and 600 per 5 s per IP. Refused: retCode 10006 with X-Bapi-Limit-Reset-Timestamp;
# past the IP limit HTTP 403 and a ban of at least 10 minutes (older docs: usually 30).
BYBIT_LIMITS = VenueLimits(
    venue="bybit",
    limits=(
        Limit("ip", 600, 5),
        Limit("order/create", 20, 1),
        Limit("order/cancel", 20, 1),
        Limit("order/realtime", 50, 1),
        Limit("order/history", 50, 1),
        Limit("execution/list", 50, 1),
        Limit("account/wallet-balance", 50, 1),
    ),
    costs={
        "load_markets": {"ip": 1},
        "load_time_difference": {"ip": 1},
        "fetch_ticker": {"ip": 1},
        "fetch_tickers": {"ip": 1},
        "fetch_ohlcv": {"ip": 1},
        "fetch_balance": {"ip": 1, "account/wallet-balance": 1},
        "create_order": {"ip": 1, "order/create": 1},
        # the open list, the cancel, the finished list (the order read back)
        "cancel_order": {"ip": 3, "order/realtime": 1, "order/cancel": 1, "order/history": 1},
        "fetch_order": {"ip": 2, "order/realtime": 1, "order/history": 1},
        "fetch_open_orders": {"ip": 1, "order/realtime": 1},
        "fetch_my_trades": {"ip": 1, "execution/list": 1},
        "fetch_order_trades": {"ip": 1, "execution/list": 1},
    },
    default_cost={"ip": 1},
    refusal_pause_s=1.0,
    ban_pause_s=1800.0,
    reset_header="X-Bapi-Limit-Reset-Timestamp",
    remaining_header="X-Bapi-Limit-Status",
)

# Kraken spot REST (Starter tier, the harshest): a call counter of 15 per key decaying
# 0.33/s (trade history +2, AddOrder/CancelOrder nothing), and an order counter of 60
# per pair decaying 1/s (an order +1, a cancel up to +8 by the order's age: taken as 8).
# Refused: EAPI:Rate limit exceeded / EOrder:Rate limit exceeded, no time named.
KRAKEN_LIMITS = VenueLimits(
    venue="kraken",
    limits=(
        Limit("calls", 15, decay_per_s=0.33),
        Limit("orders", 60, decay_per_s=1.0),
        Limit("public", 1, decay_per_s=1.0),  # about one public call a second per IP
    ),
    costs={
        "load_markets": {"public": 1},
        "load_time_difference": {"public": 1},
        "fetch_ticker": {"public": 1},
        "fetch_tickers": {"public": 1},
        "fetch_ohlcv": {"public": 1},
        "create_order": {"orders": 1},
        "cancel_order": {"orders": 8, "calls": 1},  # + QueryOrders: the order read back
        "fetch_order": {"calls": 2},  # OpenOrders, then ClosedOrders
        "fetch_open_orders": {"calls": 1},
        "fetch_balance": {"calls": 1},
        "fetch_my_trades": {"calls": 2},
        "fetch_order_trades": {"calls": 2},
    },
    default_cost={"calls": 1},
    ccxt_rate_limit_ms=333.0,  # ccxt's cost 3 a private call: 1 s apart, public 1/3 s
)

VENUE_LIMITS: Mapping[str, VenueLimits] = {
    v.venue: v for v in (OKX_LIMITS, BYBIT_LIMITS, KRAKEN_LIMITS)
}


def venue_limits_of(exchange_id: str) -> VenueLimits | None:
    """The published limits of ``exchange_id`` (None: none known here)."""
    return VENUE_LIMITS.get(exchange_id)


def counter_poll_period(
    limits: VenueLimits, op: str, share: float, idle_share: float, floor_s: float
) -> float:
    """Seconds between the calls of an idle poll of ``op`` so that it uses at most
    ``idle_share`` of each of its counters' drain (never faster than ``floor_s``):
    Kraken's open-order poll slows to one call every few seconds, OKX's and Bybit's
    stay at the floor."""
    period = floor_s
    buckets = {lim.name: lim.bucket(share) for lim in limits.limits}
    for name, cost in limits.cost(op).items():
        if name in buckets and cost:
            period = max(period, cost / (buckets[name][1] * idle_share))
    return period


@dataclass(slots=True)
class _Counters:
    levels: dict[str, tuple[float, float]] = field(default_factory=dict)  # (level, at)
    paused_until: float = 0.0  # epoch seconds


def _load(data: dict[str, Any]) -> _Counters:
    levels = {str(k): (float(v[0]), float(v[1])) for k, v in data.get("levels", {}).items()}
    return _Counters(levels, float(data.get("paused_until", 0.0)))


def _dump(state: _Counters) -> dict[str, Any]:
    return {"levels": state.levels, "paused_until": state.paused_until}


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
        if not 0 < share <= 1:
            raise ValueError(f"request budget share must be in (0, 1], got {share}")
        self.limits = limits
        self.share = share
        self.ccxt_rate_limit_ms = limits.ccxt_rate_limit_ms
        self._buckets = {lim.name: lim.bucket(share) for lim in limits.limits}
        self._store: MemoryStore[_Counters] | FileStore[_Counters] = (
            MemoryStore(_Counters()) if path is None else FileStore(path, _load, _dump, _Counters)
        )
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
        remaining = _header(headers, self.limits.remaining_header)
        if remaining is None or remaining.strip() != "0":
            return
        reset = _epoch_ms(_header(headers, self.limits.reset_header))
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

        def fill(state: _Counters) -> None:
            for name, cost in costs.items():
                capacity, _ = self._buckets[name]
                level = max(self._level(state, name, now), capacity)
                state.levels[name] = (level + cost, now)

        self._store.update(fill)
        self.bans += 1
        reset = _epoch_ms(_header(headers, self.limits.reset_header))
        if retry_after is not None:
            until = now + retry_after
        elif reset is not None and reset > now:
            until = reset
        elif status in ("403", "418"):
            until = now + self.limits.ban_pause_s
        else:
            until = now + self.limits.refusal_pause_s
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

    def __repr__(self) -> str:
        return f"CounterBudget({self.limits.venue}, share={self.share}, waits={self.waits})"


def _header(headers: Mapping[str, Any] | None, name: str | None) -> str | None:
    if not headers or name is None:
        return None
    wanted = name.lower()
    return next((str(v) for k, v in headers.items() if str(k).lower() == wanted), None)


def _epoch_ms(value: str | None) -> float | None:
    """Epoch seconds from an epoch-milliseconds header (None if absent or unreadable)."""
    if value is None:
        return None
    try:
        return int(value.strip()) / 1000
    except ValueError:
        return None
