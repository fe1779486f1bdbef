"""The paper engine's order record and its per-symbol index of open limit orders.

Orders rest at price levels: a sorted list of distinct prices per side plus a
dict from price to the orders at it (oldest first, as exchanges queue them). The
best buy and sell limits are the ends of those lists, so "does this candle reach
any order?" is two comparisons and the backtest can skip candles with numpy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from decimal import Decimal

import msgspec

from gridsup.exchange.types import Order
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = ["Book", "PaperOrder"]

_ZERO = Decimal(0)


class PaperOrder(msgspec.Struct, kw_only=True):
    """Mutable engine-side state of one order (``Order`` is its frozen view).

    ``locked`` is what the order still holds of the account: quote (cost plus
    fee) for a buy, base for a sell. ``seq`` orders orders by creation.
    """

    id: str
    seq: int
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    amount: Decimal
    timestamp: int
    locked: Decimal
    status: OrderStatus = OrderStatus.OPEN
    filled: Decimal = _ZERO
    cost: Decimal = _ZERO
    fee: Decimal = _ZERO
    fee_currency: str | None = None

    def public(self) -> Order:
        """A frozen ``Order`` as the ``Exchange`` Protocol returns it."""
        return Order(
            id=self.id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            status=self.status,
            price=self.price,
            amount=self.amount,
            filled=self.filled,
            timestamp=self.timestamp,
            average=self.cost / self.filled if self.filled else None,
            fee=self.fee,
            fee_currency=self.fee_currency,
        )


class _Side:
    """The open orders of one side of one symbol, by price level."""

    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.prices: list[Decimal] = []  # ascending, distinct
        self.levels: dict[Decimal, list[PaperOrder]] = {}

    def add(self, price: Decimal, order: PaperOrder) -> None:
        level = self.levels.get(price)
        if level is None:
            self.levels[price] = [order]
            bisect.insort(self.prices, price)
        else:
            level.append(order)

    def remove(self, price: Decimal, order: PaperOrder) -> None:
        level = self.levels[price]
        level.remove(order)
        if not level:
            del self.levels[price]
            del self.prices[bisect.bisect_left(self.prices, price)]


class Book:
    """Open limit orders of one symbol, indexed by side and price."""

    __slots__ = ("_buys", "_sells")

    def __init__(self) -> None:
        self._buys = _Side()
        self._sells = _Side()

    def add(self, order: PaperOrder) -> None:
        """Rest ``order`` (a limit order) at its price, behind older orders."""
        assert order.price is not None, "only limit orders rest in a book"
        if order.side is Side.BUY:
            self._buys.add(order.price, order)
        else:
            self._sells.add(order.price, order)

    def remove(self, order: PaperOrder) -> None:
        """Take ``order`` out of the book (filled or cancelled)."""
        assert order.price is not None, "only limit orders rest in a book"
        if order.side is Side.BUY:
            self._buys.remove(order.price, order)
        else:
            self._sells.remove(order.price, order)

    # Converted when asked (once per candle the backtest walks), not on every add and
    # remove (twice per fill).
    def best_bid(self) -> float | None:
        """Highest open buy limit, None without buys."""
        prices = self._buys.prices
        return float(prices[-1]) if prices else None

    def best_ask(self) -> float | None:
        """Lowest open sell limit, None without sells."""
        prices = self._sells.prices
        return float(prices[0]) if prices else None

    def crossed_by(self, low: Decimal, high: Decimal) -> bool:
        """Whether prices spanning [low, high] reach any open order."""
        buys, sells = self._buys.prices, self._sells.prices
        return bool((buys and buys[-1] >= low) or (sells and sells[0] <= high))

    def buys_at_or_above(self, price: Decimal) -> list[PaperOrder]:
        """Buys a fall to ``price`` reaches: highest limit first, oldest first within."""
        prices = self._buys.prices
        start = bisect.bisect_left(prices, price)
        return [o for p in reversed(prices[start:]) for o in self._buys.levels[p]]

    def sells_at_or_below(self, price: Decimal) -> list[PaperOrder]:
        """Sells a rise to ``price`` reaches: lowest limit first, oldest first within."""
        prices = self._sells.prices
        end = bisect.bisect_right(prices, price)
        return [o for p in prices[:end] for o in self._sells.levels[p]]

    def orders(self) -> Iterator[PaperOrder]:
        """Every open order in the book (no particular order)."""
        for side in (self._buys, self._sells):
            for level in side.levels.values():
                yield from level

    def count(self) -> int:
        """Number of open orders."""
        return sum(len(level) for s in (self._buys, self._sells) for level in s.levels.values())
