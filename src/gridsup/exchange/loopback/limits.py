"""The loopback exchange's request weights, per-IP weight limit and ban ladder, and its
request log (docs/exchange.md, "Request weights and bans").

Each /api request costs its endpoint's weight (Binance's spot table, ``weight``); the
weight used in the current window (one minute, fixed like Binance's calendar minute) is
sent back on every answer in ``X-MBX-USED-WEIGHT-1M``. Past ``limit`` the request is
answered 429 with ``Retry-After`` (seconds to the window's end). A request that comes
before that Retry-After has passed is answered 418: the IP is banned for the next rung
of ``ban_ladder`` (2 minutes up to 3 days, Binance's range), and every request during a
ban is answered 418 with the time left. ``time_scale`` shrinks every duration (window,
Retry-After, bans) for tests: 0.01 makes a minute 0.6 s.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import msgspec

__all__ = ["BAN_LADDER_S", "RateLimiter", "RequestRecord", "weight"]

WINDOW_S = 60.0
# Seconds of each successive 418 ban (repeat offenders get the next rung).
BAN_LADDER_S: tuple[float, ...] = (120, 600, 3600, 21_600, 86_400, 259_200)
REQUEST_LOG_SIZE = 20_000

# Binance spot REST weights (IP) of the endpoints the loopback serves.
_FIXED: dict[str, int] = {
    "GET /api/v3/ping": 1,
    "GET /api/v3/time": 1,
    "GET /api/v3/exchangeInfo": 20,
    "GET /api/v3/klines": 2,
    "POST /api/v3/order": 1,
    "GET /api/v3/order": 4,
    "DELETE /api/v3/order": 1,
    "GET /api/v3/account": 20,
}


def weight(method: str, path: str, query: Mapping[str, str]) -> int:
    """The weight Binance charges for ``method path`` with these query parameters."""
    key = f"{method} {path}"
    fixed = _FIXED.get(key)
    if fixed is not None:
        return fixed
    one = "symbol" in query
    match key:
        case "GET /api/v3/openOrders":
            return 6 if one else 80
        case "GET /api/v3/myTrades":
            return 5 if "orderId" in query else 20
        case "GET /api/v3/ticker/24hr":
            return 2 if one else 80 if "symbols" not in query else _by_count(query, 2, 40, 80)
        case "GET /api/v3/ticker/price" | "GET /api/v3/ticker/bookTicker":
            return 2 if one else 4
    return 1


def _by_count(query: Mapping[str, str], small: int, medium: int, large: int) -> int:
    """Weight of a ``symbols=[...]`` request: by how many symbols it names."""
    count = query.get("symbols", "").count(",") + 1
    return small if count <= 20 else medium if count <= 100 else large


class RequestRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One /api request as the exchange saw it (``GET /admin/request_log``)."""

    method: str
    path: str
    time_ms: int
    status: int
    weight: int
    used_weight: int
    venue: str = "binance"  # or okx, bybit, kraken (their limits: venue_limits.py)
    retry_at_ms: int = 0  # a refusal for the rate: when a retry is first admitted


class RateLimiter:
    """Weight per window for one IP (the loopback serves one), 429/418 and bans.

    ``limit`` None counts weight but never refuses (the lenient mode).
    """

    def __init__(
        self,
        clock: Callable[[], int],
        *,
        limit: int | None = 6000,
        time_scale: float = 1.0,
        ban_ladder: Sequence[float] = BAN_LADDER_S,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.time_scale = time_scale
        self.ban_ladder = tuple(ban_ladder)
        self.log: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self._window_start = 0
        self.used = 0
        self._backoff_until = 0  # end of the last 429's Retry-After (ms)
        self.banned_until = 0
        self.bans = 0

    def _window_ms(self) -> int:
        return max(1, int(WINDOW_S * 1000 * self.time_scale))

    def admit(self, cost: int) -> tuple[int, float] | None:
        """Count a request; None if it may be served, else (status, Retry-After s)."""
        now = self.clock()
        window = self._window_ms()
        start = now - now % window
        if start != self._window_start:
            self._window_start, self.used = start, 0
        if self.limit is None:
            self.used += cost
            return None
        if now < self.banned_until:
            return 418, (self.banned_until - now) / 1000
        if now < self._backoff_until:  # came back before Retry-After: banned
            rung = self.ban_ladder[min(self.bans, len(self.ban_ladder) - 1)]
            self.bans += 1
            self.banned_until = now + int(rung * 1000 * self.time_scale)
            self._backoff_until = 0
            return 418, (self.banned_until - now) / 1000
        self.used += cost
        if self.used > self.limit:
            self._backoff_until = start + window
            return 429, (self._backoff_until - now) / 1000
        return None

    def record(
        self,
        method: str,
        path: str,
        status: int,
        cost: int,
        when: int,
        *,
        venue: str = "binance",
        retry_at_ms: int = 0,
    ) -> None:
        """Log one request (every venue's requests share the log, in order)."""
        self.log.append(
            RequestRecord(
                method=method,
                path=path,
                time_ms=when,
                status=status,
                weight=cost,
                used_weight=self.used,
                venue=venue,
                retry_at_ms=retry_at_ms,
            )
        )

    def retry_at(self) -> int:
        """When the last refusal (429 or 418) allows a retry (ms; 0: none pending)."""
        return max(self.banned_until, self._backoff_until)


def retry_after_text(seconds: float) -> str:
    """Retry-After as Binance sends it: whole seconds, rounded up (at least 1)."""
    return str(max(1, math.ceil(seconds)))
