"""The one boundary where ccxt's exceptions become gridsup's (``exchange/errors.py``).

Classified by the action they require (freqtrade's model): temporary (retry with
backoff), rate limited (back off, Retry-After), invalid (never retry), not found,
operational (keys refused: stop and alert).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt

from gridsup.exchange import errors
from gridsup.exchange.ccxt.dialects import Dialect

__all__ = [
    "TimestampRejected",
    "ambiguous_on_create",
    "header_value",
    "keys_refused",
    "map_ccxt_error",
    "parse_retry_after",
    "rate_refusal",
]

# Binance answers a duplicate client order id with -2010 "Duplicate order sent.", which
# ccxt raises as a plain InvalidOrder; other exchanges raise ccxt.DuplicateOrderId.
_DUPLICATE_MESSAGES = (
    "Duplicate order sent",
    "Duplicate clientOrderId",
    "duplicate client",
    "Duplicated clOrdId",  # OKX 51016
)


# Binance's -2015 "Invalid API-key, IP, or permissions for action." (HTTP 401). ccxt's
# binance raises it as DDoSProtection once any private request of the client has
# succeeded ("raised by Binance on a temporary ban"), so a key revoked mid-run would look
# like a rate limit: a 60 s pause of every process's requests, public ones too, then the
# same refusal again, and the account never paused. A real ban is answered 429/418.
_KEYS_REFUSED = re.compile(r'"code"\s*:\s*-2015(?!\d)')


def keys_refused(exc: BaseException) -> bool:
    """Whether ``exc`` is Binance refusing the keys (-2015), whatever class ccxt gave it:
    taken as the account's refusal (it pauses and is probed once a minute, which also
    outlasts a temporary ban), never as a rate limit."""
    return isinstance(exc, ccxt.BaseError) and bool(_KEYS_REFUSED.search(str(exc)))


class TimestampRejected(errors.ExchangeUnavailable):
    """The exchange refused the request's timestamp (Binance -1021: clock skew or a slow
    link). Temporary: re-sync the clock difference and retry. The request was not executed."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def header_value(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """The value of header ``name`` (any case), None if absent."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def rate_refusal(status: int | None, exc: BaseException) -> str | None:
    """The venue refused the request for the rate: "429" (rate limited) or "418"
    (banned), by the HTTP status, or by ccxt's class for venues that say it in the
    body; None for any other error."""
    if status in (429, 418):
        return str(status)
    if keys_refused(exc):  # -2015, which ccxt may class as a rate limit: the keys
        return None
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return "418" if "418" in str(exc) or "banned" in str(exc) else "429"
    return None


def _names_code(message: str, codes: tuple[str, ...]) -> bool:
    """Whether the venue's answer in ``message`` carries one of ``codes`` (a whole code:
    50011 is not 500110)."""
    return any(re.search(rf"(?<![\w-]){re.escape(code)}(?![\w])", message) for code in codes)


def _venue_error(
    exc: Exception, dialect: Dialect, response_headers: Mapping[str, Any] | None
) -> errors.ExchangeError | None:
    """The class a venue's own code says, where ccxt's class is less precise (a venue
    code ccxt leaves as a plain ExchangeError or a BadRequest); None: ccxt's class."""
    message = str(exc)
    if isinstance(exc, ccxt.DuplicateOrderId | ccxt.OrderNotFound):
        return None
    if _names_code(message, dialect.duplicate_codes):
        return errors.DuplicateOrder(message)
    if _names_code(message, dialect.rate_limit_codes):
        retry_after = parse_retry_after(header_value(response_headers, "Retry-After"))
        return errors.RateLimited(message, retry_after=retry_after)
    if _names_code(message, dialect.temporary_codes) and not isinstance(
        exc, ccxt.AuthenticationError
    ):
        return errors.ExchangeUnavailable(message)
    return None


def map_ccxt_error(
    exc: Exception,
    response_headers: Mapping[str, Any] | None = None,
    dialect: Dialect | None = None,
) -> errors.ExchangeError:
    """Our error type for a ccxt exception (most specific ccxt class first).

    ``response_headers`` are the headers of the response that raised it (see
    ``client.error_response_headers``); a Retry-After there becomes
    ``RateLimited.retry_after``. ``dialect`` (the venue's) names the codes that are
    duplicates, rate limits or temporary whatever class ccxt gave them.
    Anything unknown becomes a plain ``ExchangeError`` (never swallowed).
    """
    message = str(exc)
    if keys_refused(exc):
        return errors.AuthenticationError(message)
    if dialect is not None:
        venue = _venue_error(exc, dialect, response_headers)
        if venue is not None:
            return venue
    match exc:
        case ccxt.DuplicateOrderId():
            return errors.DuplicateOrder(message)
        case ccxt.OrderNotFound():
            return errors.OrderNotFound(message)
        case ccxt.InsufficientFunds():
            return errors.InsufficientFunds(message)
        case ccxt.BadSymbol():
            return errors.BadSymbol(message)
        case ccxt.InvalidOrder() | ccxt.BadRequest() if any(
            m in message for m in _DUPLICATE_MESSAGES
        ):
            return errors.DuplicateOrder(message)
        case ccxt.InvalidOrder() | ccxt.BadRequest() | ccxt.OperationRejected():
            return errors.InvalidOrder(message)
        case ccxt.AuthenticationError():
            return errors.AuthenticationError(message)
        case ccxt.RateLimitExceeded() | ccxt.DDoSProtection():
            retry_after = parse_retry_after(header_value(response_headers, "Retry-After"))
            return errors.RateLimited(message, retry_after=retry_after)
        case ccxt.InvalidNonce():
            return TimestampRejected(message)
        case ccxt.NetworkError() | ccxt.BadResponse():
            # RequestTimeout, ExchangeNotAvailable (5xx, dropped connection), OnMaintenance
            return errors.ExchangeUnavailable(message)
        case _:
            return errors.ExchangeError(message)


def ambiguous_on_create(error: errors.ExchangeError) -> bool:
    """Whether a create request that failed this way may still have placed the order.

    A timeout, a dropped connection or a 5xx leaves the outcome unknown (Binance: "the
    execution status is UNKNOWN"); a rate limit or a refused timestamp is rejected
    before execution, and so is every non-temporary error.
    """
    return isinstance(error, errors.ExchangeUnavailable) and not isinstance(
        error, TimestampRejected
    )
