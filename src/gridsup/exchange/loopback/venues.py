"""The loopback exchange's other dialects (OKX v5, Bybit v5, Kraken spot REST), next to
its Binance one: where each lives on the server, and each venue's own answer to an
injected rate limit or timestamp fault, and to a request past its published limits
(``venue_limits.py``). All dialects share one ``LoopbackState`` (one paper account).
The ccxt URL overrides that point a venue's ccxt class at them are in ``urls.py``
(``url_overrides`` is re-exported here)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gridsup.exchange.loopback import bybit, kraken, okx
from gridsup.exchange.loopback.context import state_of
from gridsup.exchange.loopback.faults import Banned, Fault, RateLimit, TimestampError
from gridsup.exchange.loopback.urls import url_overrides
from gridsup.exchange.loopback.venue_common import LIMIT_RETRY_AT, PASSPHRASES
from gridsup.exchange.loopback.venue_limits import Refusal

__all__ = [
    "FAULT_PREFIXES",
    "add_venue_routes",
    "url_overrides",  # re-exported from urls.py, where it lives
    "venue_fault_answer",
    "venue_limited",
    "venue_of",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths that count as exchange API requests (faults apply, requests are counted).
FAULT_PREFIXES = ("/api/", okx.PREFIX, bybit.PREFIX, kraken.PREFIX)
# OKX's v5 paths start with /api/v5: check it before Binance's /api/.
_VENUES = (("okx", okx), ("bybit", bybit), ("kraken", kraken))


def venue_of(path: str) -> str | None:
    """Which of the OKX, Bybit, Kraken dialects ``path`` belongs to (None: Binance's or
    none)."""
    for name, module in _VENUES:
        if path.startswith(module.PREFIX):
            return name
    return None


async def venue_limited(request: web.Request, handler: Handler, venue: str) -> web.StreamResponse:
    """Count the request against ``venue``'s limits: refused the venue's way past them,
    else served (Bybit: with its limit headers); logged either way, a refusal with the
    time a retry is first admitted."""
    state = state_of(request)
    module = dict(_VENUES)[venue]
    when = state.clock()
    verdict = state.venue_limits.admit(
        venue, request.method, request.path, request.headers.get(module.KEY_HEADER, "")
    )
    status, retry_at = 0, 0  # 0 in the log: the connection was dropped with no answer
    try:
        if isinstance(verdict, Refusal):
            retry_at = verdict.retry_at_ms
            response: web.StreamResponse = module.limit_answer(verdict)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # e.g. 404 no such route: logged
                status = exc.status
                raise
            module.limit_headers(response, verdict)
            retry_at = request.get(LIMIT_RETRY_AT, 0)  # Kraken's order counter
        status = response.status
        return response
    finally:
        state.limiter.record(
            request.method, request.path, status, 0, when, venue=venue, retry_at_ms=retry_at
        )


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
