"""The streaming side of an exchange, behind Protocols (ccxt.pro implements them in
``gridsup.exchange.ccxt.streams``): the account's user-data stream (order changes and
their trades) and the market's ticker stream.

A stream raises :class:`StreamBroken` when it can no longer be trusted to carry every
event (disconnected, the subscription ended, silent past its keepalive): whoever follows
it must reconcile what it missed over REST before it trusts it again.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from gridsup.exchange.errors import ExchangeUnavailable
from gridsup.exchange.types import Order, Ticker, Trade

__all__ = ["MarketStream", "OrderEvent", "StreamBroken", "UserStream", "stale_after_ms"]


class StreamBroken(ExchangeUnavailable):
    """The stream ended or went silent: events may have been lost."""


def stale_after_ms(keepalive_ms: int, stale_ms: int | None = None) -> int:
    """How long a stream may carry nothing at all (no event, no pong) before it counts
    as broken: ``stale_ms`` when set, else one keepalive and half of one more (at
    least 0.5 s): one ping went unanswered, with some slack."""
    if stale_ms is not None:
        return stale_ms
    return keepalive_ms + max(500, keepalive_ms // 2)


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One change of one of the account's orders: the order as it was left, and the
    trade that made the change (None for a placement, cancel or expiry)."""

    order: Order
    trade: Trade | None = None


class UserStream(Protocol):
    """The account's order changes, as the exchange pushes them."""

    async def connect(self) -> None:
        """Subscribe; returns once the exchange confirmed the subscription.

        Raises:
            StreamBroken: it could not (connection refused, ...).
            AuthenticationError: the keys were refused.
        """
        ...

    async def next_events(self) -> list[OrderEvent]:
        """The next events (waits for at least one).

        Raises:
            StreamBroken: the stream ended; events may have been lost.
        """
        ...

    def silent_for_ms(self) -> int:
        """How long nothing at all (no event, no pong) came on the connection."""
        ...

    async def reset(self, reason: str) -> None:
        """Drop the connection (a silent one): the next ``connect`` opens a new one."""
        ...

    async def close(self) -> None: ...


class MarketStream(Protocol):
    """The last prices of a set of symbols, over as few connections as the venue allows."""

    async def next_tickers(self) -> list[Ticker]:
        """The next tickers (waits for at least one).

        Raises:
            StreamBroken: the stream ended.
        """
        ...

    def silent_for_ms(self) -> int: ...

    async def reset(self, reason: str) -> None: ...

    async def close(self) -> None: ...
