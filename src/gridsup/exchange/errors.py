"""Exchange errors, classified by the action they require of the caller.

ccxt's exceptions are mapped to these at one boundary (``CcxtExchange``);
``PaperExchange`` and the loopback exchange raise them directly.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every exchange error."""


class InvalidOrder(ExchangeError):
    """The order can never succeed as asked (below minimum, bad precision): do not retry."""


class BelowMinimum(InvalidOrder):
    """The order is under the market's minimum amount or notional."""


class InsufficientFunds(InvalidOrder):
    """Not enough free balance for the order."""


class OrderNotFound(ExchangeError):
    """The exchange knows no such order."""


class DuplicateOrder(InvalidOrder):
    """An order with this client order id exists already."""


class BadSymbol(InvalidOrder):
    """The exchange lists no such market."""


class OrderWouldTake(InvalidOrder):
    """A post-only (``LIMIT_MAKER``) order would match at once: refused, not placed."""


class RateLimited(ExchangeError):
    """Too many requests: back off (``retry_after`` seconds if the exchange said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeUnavailable(ExchangeError):
    """Network error, timeout or 5xx: temporary, retry with backoff."""


class AmbiguousOrder(ExchangeError):
    """A create request's outcome is unknown (response lost) and a look-up could not
    settle it: the order may or may not exist. Never conclude; reconcile later."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class AuthenticationError(ExchangeError):
    """Keys missing or refused: operational, stop and alert."""
