"""Refusals sorted by what they call for (issue 14): wait and try again, give the slot
up, or stop using the account.

* ``TEMPORARY``: the same order may well be accepted a little later. Insufficient
  balance right after a fill (the exchange has not credited the fill's proceeds yet, or
  another grid's cancel has not freed its funds), a refused timestamp (Binance -1021:
  clock skew, re-synced before the retry), a price out of the PERCENT_PRICE(_BY_SIDE)
  band around the average price (the band moves with the market), a symbol whose
  trading is halted or in a break (Binance "Market is closed."), a rate limit and a
  network fault. The slot keeps its order; the grid retries with backoff and shows it
  as waiting, with the reason.
* ``PERMANENT``: the order can never succeed as asked (a filter it breaks for good, an
  unknown symbol): the slot is given up, with the reason and an alert.
* ``ACCOUNT``: the keys are refused or lack a permission (Binance -2015 "Invalid API-key,
  IP, or permissions for action."): every grid of the account pauses with one status;
  nothing is retried until a probe succeeds.

Binance's texts are matched because ccxt maps most of these codes to one class
(``InvalidOrder``/``BadRequest``); the harsher reading is taken where unsure
(docs/exchange.md).
"""

from __future__ import annotations

import enum

from gridsup.exchange.errors import (
    AuthenticationError,
    BadSymbol,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    RateLimited,
)

__all__ = ["RefusalKind", "refusal_kind"]


class RefusalKind(enum.Enum):
    TEMPORARY = "temporary"  # retry with backoff, keep the slot
    PERMANENT = "permanent"  # give the slot up, alert
    ACCOUNT = "account"  # pause every grid of the account


# Substrings of Binance's messages (and ccxt's renderings of them) that name a passing
# condition, though ccxt raises them as InvalidOrder / BadRequest.
_TEMPORARY_TEXTS = (
    "PERCENT_PRICE",  # -1013 Filter failure: PERCENT_PRICE_BY_SIDE (and PERCENT_PRICE)
    "Market is closed",  # -1013: symbol status BREAK/HALT
    "-1021",  # Timestamp for this request is outside of the recvWindow
    "outside of the recvWindow",
    "ahead of the server",
    "insufficient balance",  # -2010 Account has insufficient balance for requested action
)
_ACCOUNT_TEXTS = (
    "-2015",
    "permissions for action",
    "API-key format invalid",
    "not permitted for this account",
    "Signature for this request is not valid",  # -1022: a wrong secret
)


def refusal_kind(error: ExchangeError) -> RefusalKind:
    """What ``error`` (from placing an order) calls for; see the module docstring."""
    text = str(error)
    if isinstance(error, AuthenticationError) or any(t in text for t in _ACCOUNT_TEXTS):
        return RefusalKind.ACCOUNT
    if isinstance(error, InsufficientFunds | RateLimited | ExchangeUnavailable):
        return RefusalKind.TEMPORARY
    if any(t in text for t in _TEMPORARY_TEXTS):
        return RefusalKind.TEMPORARY
    if isinstance(error, InvalidOrder | BadSymbol):
        return RefusalKind.PERMANENT
    return RefusalKind.TEMPORARY  # unknown: the outcome may change, never give up a slot
