"""The published request limits of OKX, Bybit and Kraken as gridsup keeps them (issue
16): each venue's limits, what each ccxt call costs on which of them, and how long a
refusal that names no time stops every caller. Pure data and arithmetic: the budget
that keeps them is ``venue_budget.CounterBudget``; the loopback's own model of the same
venues is ``loopback/venue_limits.py`` (kept apart: the tests prove one against the
other).

A limit is a count in a window (OKX: N requests per 2 s per endpoint; Bybit: N per
second per endpoint, 600 per 5 s per IP) or a counter that decays (Kraken: a call
counter of 15 per key, -0.33 a second; an order counter of 60 per pair, -1 a second).
Both are kept as a leaky bucket: a counter that may reach ``capacity`` and drains
``per_s`` a second. For a window of N per W seconds the bucket holds ``share x N`` and
drains ``share x N / W``: it then never lets more than N through in any W seconds
(``share`` <= 0.5), rolling window or fixed. Kraken's counter is kept as Kraken keeps
it, with ``share`` of its maximum (the rest for other tools using the key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "BYBIT_LIMITS",
    "KRAKEN_LIMITS",
    "OKX_LIMITS",
    "VENUE_LIMITS",
    "Limit",
    "VenueLimits",
    "counter_poll_period",
    "venue_limits_of",
]


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
