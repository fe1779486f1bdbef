"""Venue dialects: what the ccxt adapter must know of each verified exchange beyond
ccxt's unified API (client ids, finding an order by one, credentials, fees, limits,
temporary errors), and the refusal of any exchange that has none. Pure data: no ccxt
import, so ``gridsup exchanges`` lists them cheaply."""

from __future__ import annotations

from collections.abc import Mapping

from gridsup.exchange.ccxt.dialects.base import ClientIdLookup, Dialect, FeeAsset
from gridsup.exchange.ccxt.dialects.binance import BINANCE
from gridsup.exchange.ccxt.dialects.bybit import BYBIT
from gridsup.exchange.ccxt.dialects.kraken import KRAKEN
from gridsup.exchange.ccxt.dialects.okx import OKX

__all__ = [
    "DIALECTS",
    "GENERIC",
    "REQUIRED_HAS",
    "ClientIdLookup",
    "Dialect",
    "FeeAsset",
    "dialect_for",
    "trading_refusal",
]

DIALECTS: Mapping[str, Dialect] = {d.id: d for d in (BINANCE, OKX, BYBIT, KRAKEN)}

# Any other ccxt exchange: public data (prices, markets, candles) only.
GENERIC = Dialect(
    id="generic",
    name="unverified",
    api="ccxt unified API",
    client_id_field="clientOrderId",
    client_id_max=32,
    client_id_pattern=r"[A-Za-z0-9]{1,32}",
    lookup=ClientIdLookup.FETCH_ORDER,
)

# ccxt ``has`` flags a grid needs to place, find, cancel and account for its orders.
REQUIRED_HAS = ("createOrder", "cancelOrder", "fetchOpenOrders", "fetchMyTrades", "fetchBalance")


def dialect_for(exchange_id: str) -> Dialect:
    """The venue's dialect; ``GENERIC`` for an exchange without one."""
    return DIALECTS.get(exchange_id, GENERIC)


def trading_refusal(
    exchange_id: str,
    has: Mapping[str, object],
    precision: Mapping[str, object | None] | None = None,
) -> str | None:
    """Why gridsup will not trade on ``exchange_id`` (None: it will).

    ``has`` is ccxt's capability table; ``precision`` the price/amount steps of the
    markets to trade (symbol -> step or None). A venue without a dialect is refused
    even when ccxt claims every capability: whether it places AND finds orders by a
    client id, open and closed, is not something ccxt's flags say, and trading without
    that would place an order twice after a lost answer.
    """
    problems = [f"ccxt has no {flag}" for flag in REQUIRED_HAS if not has.get(flag)]
    if not (has.get("fetchOrder") or (has.get("fetchOpenOrder") and has.get("fetchClosedOrder"))):
        problems.append("ccxt cannot fetch one order (fetchOrder)")
    for name, step in (precision or {}).items():
        if step is None:
            problems.append(f"{name} has no precision")
    if exchange_id not in DIALECTS:
        problems.append(
            "no dialect says how it places and finds orders by client order id "
            f"(supported: {', '.join(sorted(DIALECTS))}; see `gridsup exchanges`)"
        )
    if not problems:
        return None
    return f"{exchange_id}: cannot trade safely: " + "; ".join(problems)
