"""What a paper account remembers of its orders and trades, and the bound on it.

Orders are indexed by id and by client id; trades are numbered as they are recorded
and kept in time order and per order. By default nothing is forgotten. With
``max_history=N`` (long dry-runs: design invariant 8) only the last N finished orders
and between N and 2N trades are kept, trimmed in bulk so that recording stays O(1)
amortised; a forgotten order's client id stays refused (``retired``, see
``exchange/paper/retired.py`` for where those ids go), and open orders are never
forgotten. The rules: docs/paper.md.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from gridsup.exchange.errors import OrderNotFound
from gridsup.exchange.paper.book import PaperOrder
from gridsup.exchange.paper.retired import RetiredIds
from gridsup.exchange.paper.snapshot import AccountParts
from gridsup.exchange.types import Trade

__all__ = ["History"]


class History:
    """The orders and trades of one paper account, bounded by ``max_history``
    (finished orders kept; None keeps all). Trade ids are ``id_prefix`` and a counter."""

    __slots__ = (
        "by_client",
        "finished",
        "id_prefix",
        "max_history",
        "next_trade",
        "orders",
        "retired",
        "touched",
        "trades",
        "trades_by_order",
    )

    def __init__(self, max_history: int | None, id_prefix: str) -> None:
        self.max_history = max_history
        self.id_prefix = id_prefix
        self.next_trade = 1
        self.orders: dict[str, PaperOrder] = {}  # by id, in creation order
        self.by_client: dict[str, str] = {}  # client order id -> order id
        self.trades: list[Trade] = []  # in time order
        self.trades_by_order: dict[str, list[Trade]] = {}
        # With max_history: finished order ids, oldest first, and the client ids of
        # orders already forgotten.
        self.finished: deque[str] = deque()
        self.retired = RetiredIds()
        # Symbols whose orders or trades changed (placed, filled, ended, forgotten)
        # since the owner last took them: what a split snapshot writes again.
        self.touched: set[str] = set()

    @classmethod
    def restored(cls, parts: AccountParts) -> History:
        """The history a snapshot holds; its trades list is taken, not copied."""
        self = cls(parts.max_history, parts.id_prefix)
        self.next_trade = parts.next_trade
        self.finished = deque(parts.finished)
        self.retired = RetiredIds(parts.retired_client_ids)
        self.trades = parts.trades
        for trade in parts.trades:
            self.trades_by_order.setdefault(trade.order_id, []).append(trade)
        for order in parts.orders:  # creation order, so the indexes rebuild identically
            self.add(order)
        return self

    def used(self, client_order_id: str) -> bool:
        """Whether an order was ever placed under ``client_order_id``, whatever became
        of it (forgotten included)."""
        return client_order_id in self.by_client or client_order_id in self.retired

    def take_touched(self) -> set[str]:
        """The symbols whose orders or trades changed since the last call."""
        touched, self.touched = self.touched, set()
        return touched

    def add(self, order: PaperOrder) -> None:
        """Remember a new order."""
        self.touched.add(order.symbol)
        self.orders[order.id] = order
        if order.client_order_id is not None:
            self.by_client[order.client_order_id] = order.id

    def find(self, order_id: str | None, client_order_id: str | None) -> PaperOrder:
        """One order, open or not, by exchange id or client id (both must match if
        both are given).

        Raises:
            OrderNotFound: no such order, or it was finished and forgotten.
            ValueError: neither id was given.
        """
        if order_id is None:
            if client_order_id is None:
                raise ValueError("fetch_order needs order_id or client_order_id")
            found = self.by_client.get(client_order_id)
            if found is None and client_order_id in self.retired:
                raise OrderNotFound(f"order {client_order_id!r} is finished and forgotten")
            if found is None:
                raise OrderNotFound(f"no order with client id {client_order_id!r}")
            order_id = found
        order = self.orders.get(order_id)
        if order is None or (
            client_order_id is not None and order.client_order_id != client_order_id
        ):
            raise OrderNotFound(f"no order {order_id}")
        return order

    def select(self, symbol: str | None, since: int | None) -> list[Trade]:
        """Trades in time order, optionally of one symbol and from ``since`` (ms) on."""
        return [
            t
            for t in self.trades
            if (symbol is None or t.symbol == symbol) and (since is None or t.timestamp >= since)
        ]

    def record(
        self,
        order: PaperOrder,
        price: Decimal,
        quantity: Decimal,
        fee: Decimal,
        fee_currency: str,
        timestamp: int,
        taker: bool,
    ) -> Trade:
        """Number and remember a new trade of ``order`` (which the fill changed); past
        twice the bound, forget down to the bound."""
        self.touched.add(order.symbol)
        trade = Trade(
            id=f"{self.id_prefix}{self.next_trade}",
            order_id=order.id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            amount=quantity,
            fee=fee,
            fee_currency=fee_currency,
            timestamp=timestamp,
            taker=taker,
        )
        self.next_trade += 1
        self.trades.append(trade)
        self.trades_by_order.setdefault(trade.order_id, []).append(trade)
        if self.max_history is not None and len(self.trades) > 2 * self.max_history:
            self._forget_trades(len(self.trades) - self.max_history)
        return trade

    def finish(self, order: PaperOrder) -> None:
        """Note that ``order`` ended (filled or canceled); forget the oldest finished
        ones past the bound."""
        self.touched.add(order.symbol)
        if self.max_history is None:
            return
        self.finished.append(order.id)
        while len(self.finished) > self.max_history:
            old = self.orders.pop(self.finished.popleft())
            self.touched.add(old.symbol)
            if old.client_order_id is not None:
                del self.by_client[old.client_order_id]
                self.retired.add(old.client_order_id)

    def _forget_trades(self, count: int) -> None:
        """Drop the ``count`` oldest trades, in bulk so appending stays O(1) amortised."""
        for trade in self.trades[:count]:
            self.touched.add(trade.symbol)  # its bucket of a split snapshot loses it
            mine = self.trades_by_order[trade.order_id]
            mine.pop(0)  # an order's trades are in time order: this one is its oldest
            if not mine:
                del self.trades_by_order[trade.order_id]
        del self.trades[:count]
