"""The request limits of the loopback's OKX, Bybit and Kraken dialects, as each venue
publishes them (docs/exchange.md, "Rate limits of OKX, Bybit and Kraken"); Binance's
weights are ``limits.py``.

- **OKX** (v5): each endpoint allows ``limit`` requests per 2 s (``OKX_PER_2S``); past
  it: HTTP 429, code 50011, no Retry-After.
- **Bybit** (v5): each private endpoint allows ``limit`` requests per second and UID, a
  rolling window, reported on every answer in ``X-Bapi-Limit`` / ``-Status`` (remaining)
  / ``-Reset-Timestamp``; past it: retCode 10006 "Too many visits!" (HTTP 200). Past 600
  requests in 5 s from the IP: HTTP 403 "access too frequent" and the IP banned (at
  least 10 minutes, Bybit says; the loopback bans for ``BYBIT_BAN_S``).
- **Kraken**: a call counter per API key that may reach 15 and decays 0.33 a second
  (the Starter tier: the harshest); each private call adds 1, trade and ledger
  history 2, AddOrder and CancelOrder nothing. Past it: ``EAPI:Rate limit exceeded``
  (HTTP 200). Orders have their own counter per pair (``KrakenOrderCounter``): 60,
  decaying 1 a second, an order adds 1, a cancel a penalty that is larger the younger
  the order; past it: ``EOrder:Rate limit exceeded``.

Modelled the harsher way where the venues do not say: windows roll (no boundary where
twice the limit passes), a refused request counts too (a client that keeps sending
stays refused: Kraken says "possibly longer if calls continue"), every API key shares
one count (one user, one IP here). Every refusal names the earliest time a retry of the
same request is admitted (``Refusal.retry_at_ms``), which the request log records, so a
test can show that a client waited for it. ``time_scale`` shrinks every duration.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "BYBIT_BAN_S",
    "BYBIT_PER_S",
    "KRAKEN_CALL_COSTS",
    "OKX_PER_2S",
    "Admission",
    "KrakenOrderCounter",
    "Refusal",
    "VenueLimiter",
]

OKX_WINDOW_S = 2.0
# OKX v5 requests per 2 s by endpoint (per user, or per IP for public data).
OKX_PER_2S: Mapping[str, int] = {
    "GET /api/v5/public/time": 10,
    "GET /api/v5/public/instruments": 20,
    "GET /api/v5/market/ticker": 20,
    "GET /api/v5/market/tickers": 20,
    "GET /api/v5/account/balance": 10,
    "POST /api/v5/trade/order": 60,
    "POST /api/v5/trade/batch-orders": 60,  # 300 orders; one order a request here
    "POST /api/v5/trade/cancel-order": 60,
    "GET /api/v5/trade/order": 60,
    "GET /api/v5/trade/orders-pending": 60,
    "GET /api/v5/trade/orders-history": 40,
    "GET /api/v5/trade/fills": 60,
    "GET /api/v5/trade/fills-history": 10,
}

BYBIT_WINDOW_S = 1.0
# Bybit v5 requests per second and UID by private endpoint (spot, unified account).
BYBIT_PER_S: Mapping[str, int] = {
    "POST /v5/order/create": 20,
    "POST /v5/order/cancel": 20,
    "GET /v5/order/realtime": 50,
    "GET /v5/order/history": 50,
    "GET /v5/execution/list": 50,
    "GET /v5/account/wallet-balance": 50,
    "GET /v5/account/info": 50,
    "GET /v5/user/query-api": 10,
}
BYBIT_IP_LIMIT, BYBIT_IP_WINDOW_S = 600, 5.0
BYBIT_BAN_S = 1800.0  # "at least 10 minutes" (v5 docs), "usually 30 minutes" (older)

KRAKEN_MAX, KRAKEN_DECAY_PER_S = 15.0, 0.33
# What a private Kraken call adds to the call counter (others: 1).
KRAKEN_CALL_COSTS: Mapping[str, float] = {
    "/0/private/TradesHistory": 2,
    "/0/private/QueryTrades": 2,
    "/0/private/Ledgers": 2,
    "/0/private/QueryLedgers": 2,
    "/0/private/AddOrder": 0,
    "/0/private/CancelOrder": 0,
}
KRAKEN_ORDER_MAX, KRAKEN_ORDER_DECAY_PER_S = 60.0, 1.0
# (younger than s, penalty) of cancelling an order, Kraken's table; older: nothing.
KRAKEN_CANCEL_PENALTY = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
_EPSILON = 1e-9  # a counter that decayed exactly to the room needed admits the call


@dataclass(frozen=True, slots=True)
class Refusal:
    """The request is refused for its rate; a retry is first admitted at ``retry_at_ms``."""

    retry_at_ms: int
    limit: int = 0  # Bybit's X-Bapi-Limit of the endpoint (0: none)
    banned: bool = False  # Bybit's IP ban (HTTP 403)


@dataclass(frozen=True, slots=True)
class Admission:
    """The request may be served; Bybit reports its endpoint's count with it."""

    limit: int = 0
    remaining: int = 0
    now_ms: int = 0


@dataclass(slots=True)
class _Window:
    """Requests of the last ``window_ms`` (a rolling window), refused ones included."""

    limit: int
    window_ms: int
    times: deque[int] = field(default_factory=deque)

    def count(self, now: int) -> int:
        while self.times and self.times[0] <= now - self.window_ms:
            self.times.popleft()
        return len(self.times)

    def take(self, now: int) -> int | None:
        """Count a request; None if within the limit, else when a retry is admitted
        (the limit-th newest request leaves the window then)."""
        over = self.count(now) >= self.limit
        self.times.append(now)
        if not over:
            return None
        return self.times[-self.limit] + self.window_ms if self.limit else now

    def reset_at(self, now: int) -> int:
        """When the oldest request counted leaves the window (now if none)."""
        self.count(now)
        return self.times[0] + self.window_ms if self.times else now


@dataclass(slots=True)
class _Counter:
    """A counter that may reach ``maximum`` and decays ``per_ms`` a millisecond."""

    maximum: float
    per_ms: float
    level: float = 0.0
    at: int = 0

    def now(self, now: int) -> float:
        self.level = max(0.0, self.level - (now - self.at) * self.per_ms)
        self.at = now
        return self.level

    def take(self, now: int, cost: float) -> int | None:
        """Add ``cost``; None if it fits, else (it is added anyway) when a call of the
        same cost fits again."""
        fits = self.now(now) + cost <= self.maximum + _EPSILON
        self.level += cost
        if fits:
            return None
        excess = self.level + cost - self.maximum
        return now + math.ceil(excess / self.per_ms) if self.per_ms else now


class VenueLimiter:
    """The request limits of the OKX, Bybit and Kraken dialects (one user, one IP).

    ``enabled`` False counts nothing and refuses nothing (the lenient loopback).
    """

    def __init__(
        self, clock: Callable[[], int], *, time_scale: float = 1.0, enabled: bool = True
    ) -> None:
        self.clock = clock
        self.time_scale = time_scale
        self.enabled = enabled
        self._windows: dict[str, _Window] = {}
        self._kraken: dict[str, _Counter] = {}
        self._bybit_ip = _Window(BYBIT_IP_LIMIT, self._ms(BYBIT_IP_WINDOW_S))
        self.bybit_banned_until = 0

    def _ms(self, seconds: float) -> int:
        return max(1, int(seconds * 1000 * self.time_scale))

    def _window(self, endpoint: str, limit: int, seconds: float) -> _Window:
        window = self._windows.get(endpoint)
        if window is None:
            window = self._windows[endpoint] = _Window(limit, self._ms(seconds))
        return window

    def admit(self, venue: str, method: str, path: str, key: str) -> Refusal | Admission:
        """Count one request of ``venue`` (okx, bybit, kraken) by API ``key``."""
        now = self.clock()
        if not self.enabled:
            return Admission(now_ms=now)
        endpoint = f"{method} {path}"
        match venue:
            case "okx":
                limit = OKX_PER_2S.get(endpoint)
                if limit is None:
                    return Admission(now_ms=now)
                retry = self._window(endpoint, limit, OKX_WINDOW_S).take(now)
                return Admission(now_ms=now) if retry is None else Refusal(retry)
            case "bybit":
                return self._bybit(endpoint, now)
            case "kraken":
                cost = KRAKEN_CALL_COSTS.get(path, 1.0)
                if not path.startswith("/0/private/") or not cost:
                    return Admission(now_ms=now)
                counter = self._kraken.get(key)
                if counter is None:
                    per_ms = KRAKEN_DECAY_PER_S / 1000 / self.time_scale
                    counter = self._kraken[key] = _Counter(KRAKEN_MAX, per_ms, at=now)
                retry = counter.take(now, cost)
                return Admission(now_ms=now) if retry is None else Refusal(retry)
        return Admission(now_ms=now)

    def _bybit(self, endpoint: str, now: int) -> Refusal | Admission:
        if now < self.bybit_banned_until:
            return Refusal(self.bybit_banned_until, banned=True)
        if self._bybit_ip.take(now) is not None:
            self.bybit_banned_until = now + self._ms(BYBIT_BAN_S)
            return Refusal(self.bybit_banned_until, banned=True)
        limit = BYBIT_PER_S.get(endpoint)
        if limit is None:
            return Admission(now_ms=now)
        window = self._window(endpoint, limit, BYBIT_WINDOW_S)
        retry = window.take(now)
        if retry is not None:
            return Refusal(retry, limit=limit)
        return Admission(limit, max(0, limit - window.count(now)), now)

    def kraken_level(self, key: str) -> float:
        """The call counter of ``key`` now (0 if it never called)."""
        counter = self._kraken.get(key)
        return counter.now(self.clock()) if counter is not None else 0.0


class KrakenOrderCounter:
    """Kraken's per-pair order counter: an order adds 1, a cancel a penalty by the
    order's age; past ``KRAKEN_ORDER_MAX`` the request is refused (and still counts)."""

    def __init__(self, clock: Callable[[], int], *, time_scale: float = 1.0) -> None:
        self.clock = clock
        self.time_scale = time_scale
        self.enabled = True
        self._pairs: dict[str, _Counter] = {}

    def take(self, pair: str, cost: float) -> int | None:
        """Count ``cost`` on ``pair``; None if it fits, else when a retry does."""
        if not self.enabled or not cost:
            return None
        now = self.clock()
        counter = self._pairs.get(pair)
        if counter is None:
            per_ms = KRAKEN_ORDER_DECAY_PER_S / 1000 / self.time_scale
            counter = self._pairs[pair] = _Counter(KRAKEN_ORDER_MAX, per_ms, at=now)
        return counter.take(now, cost)

    def cancel_penalty(self, opened_ms: int) -> float:
        """What cancelling an order opened at ``opened_ms`` adds (Kraken's table)."""
        age_s = (self.clock() - opened_ms) / 1000 / self.time_scale
        return next((float(p) for below, p in KRAKEN_CANCEL_PENALTY if age_s < below), 0.0)
