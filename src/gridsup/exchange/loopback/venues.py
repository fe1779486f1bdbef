"""The loopback exchange's other dialects (OKX v5, Bybit v5, Kraken spot REST), next to
its Binance one: where each lives on the server, the ccxt URL overrides that point a
venue's ccxt class at it, and each venue's own answer to an injected rate limit or
timestamp fault. All dialects share one ``LoopbackState`` (one paper account)."""

from __future__ import annotations

from aiohttp import web

from gridsup.exchange.loopback import bybit, kraken, okx
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit, TimestampError
from gridsup.exchange.loopback.venue_common import PASSPHRASES

__all__ = [
    "FAULT_PREFIXES",
    "add_venue_routes",
    "url_overrides",
    "venue_fault_answer",
]

# Paths that count as exchange API requests (faults apply, requests are counted).
FAULT_PREFIXES = ("/api/", okx.PREFIX, bybit.PREFIX, kraken.PREFIX)
# OKX's v5 paths start with /api/v5: check it before Binance's /api/.
_VENUES = (("okx", okx), ("bybit", bybit), ("kraken", kraken))


def url_overrides(exchange_id: str, base_url: str) -> dict[str, str]:
    """ccxt ``urls['api']`` entries that point ``exchange_id``'s class at the loopback.

    Raises:
        ValueError: the loopback does not speak that exchange's dialect.
    """
    base = base_url.rstrip("/")
    match exchange_id:
        case "binance":  # REST and the websocket streams (issue 15)
            from gridsup.exchange.loopback.server import binance_url_overrides

            return binance_url_overrides(base)
        case "okx":
            return {"rest": base}
        case "bybit" | "kraken":
            return {"public": base, "private": base}
        case _:
            raise ValueError(f"the loopback exchange does not speak {exchange_id}'s dialect")


def venue_fault_answer(path: str, fault: Fault) -> web.Response | None:
    """The venue's own answer to a rate-limit, ban or timestamp fault on ``path``;
    None for Binance's paths and for other faults (the server's default answer)."""
    if not isinstance(fault, RateLimit | Banned | TimestampError):
        return None
    for _name, module in _VENUES:
        if path.startswith(module.PREFIX):
            answer: web.Response = module.fault_answer(fault)
            return answer
    return None


def add_venue_routes(app: web.Application, passphrases: dict[str, str] | None = None) -> None:
    """Register the OKX, Bybit and Kraken routes; ``passphrases`` (API key -> OKX
    passphrase) are what OKX's private routes accept."""
    app[PASSPHRASES] = dict(passphrases or {})
    for _name, module in _VENUES:
        module.add_routes(app)
