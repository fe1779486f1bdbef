"""The execution actor's book of tracked orders, keyed by client order id.

An order is tracked from the moment a placement starts (so a re-sent PlaceOrder and the
budget both see it) until it is final; final orders stay a while for re-sends and
snapshots, at most ``keep_final`` of them (design invariant 8), and can always be looked
up on the exchange again after that.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from gridsup.exchange.fill_report import fill_report
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.orders import OrderState

KEEP_FINAL = 10_000
# Fills remembered per order (a grid order fills in a handful of trades; the bound
# only protects memory against a pathological market order).
KEEP_FILLS = 100


@dataclass(slots=True)
class TrackedOrder:
    """One of our orders as the execution actor knows it."""

    grid: str  # the grid's name (its update topic)
    intent: OrderIntent
    status: OrderStatus = OrderStatus.OPEN
    filled: Decimal = Decimal(0)
    exchange_order_id: str | None = None
    placed: bool = False  # the exchange has it (False while the placement is in flight)
    placed_at: int = 0  # the exchange's timestamp of the order (ms)
    amount: Decimal | None = None  # as the exchange holds it (rounded), once known
    fills: list[FillReport] = field(default_factory=list)
    trade_ids: set[str] = field(default_factory=set)

    @property
    def cid(self) -> str:
        return self.intent.client_order_id

    @property
    def order_amount(self) -> Decimal:
        return self.amount if self.amount is not None else self.intent.amount

    @property
    def open_buy_notional(self) -> Decimal:
        """Quote this order still commits (a buy's unfilled remainder at its price)."""
        if self.status is not OrderStatus.OPEN or self.intent.side is not Side.BUY:
            return Decimal(0)
        price = self.intent.price or Decimal(0)
        return (self.intent.amount - self.filled) * price

    def apply_trade(
        self,
        trade: Trade,
        order_amount: Decimal | None = None,
        fee_quote: Decimal | None = None,
    ) -> FillReport | None:
        """Book one execution; None when it was booked already (a repeat). ``fee_quote``:
        a third-asset fee's value in quote (see ``execution_fees``)."""
        if trade.id in self.trade_ids:
            return None
        self.trade_ids.add(trade.id)
        self.filled += trade.amount
        amount = order_amount if order_amount is not None else self.order_amount
        if self.filled >= amount:
            self.status = OrderStatus.CLOSED
        report = fill_report(
            trade,
            client_order_id=self.cid,
            order_filled=self.filled,
            order_closed=self.status.is_final,
            fee_quote=fee_quote,
        )
        self.fills.append(report)
        if len(self.fills) > KEEP_FILLS:
            del self.fills[: len(self.fills) - KEEP_FILLS]
        return report

    def state(self) -> OrderState:
        return OrderState(
            intent=self.intent,
            status=self.status,
            filled=self.filled,
            exchange_order_id=self.exchange_order_id,
            fills=tuple(self.fills),
        )


def intent_of(order: Order) -> OrderIntent:
    """The intent an exchange order answers (for orders adopted from the exchange).

    Raises:
        ValueError: the order has no client order id.
    """
    if order.client_order_id is None:
        raise ValueError(f"order {order.id} has no client order id")
    return OrderIntent(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        amount=order.amount,
        price=order.price if order.type is OrderType.LIMIT else None,
    )


class TrackedOrders:
    """Tracked orders: open ones by client id (and by grid, so that a grid's budget
    check reads its own orders, not the account's), final ones in a bounded LRU."""

    def __init__(self, keep_final: int = KEEP_FINAL) -> None:
        self._open: dict[str, TrackedOrder] = {}
        self._open_by_grid: dict[str, dict[str, TrackedOrder]] = {}
        self._final: OrderedDict[str, TrackedOrder] = OrderedDict()
        self.keep_final = keep_final

    def get(self, cid: str) -> TrackedOrder | None:
        return self._open.get(cid) or self._final.get(cid)

    def add(self, order: TrackedOrder) -> TrackedOrder:
        self._final.pop(order.cid, None)
        known = self._open.get(order.cid)
        if known is not None and known.grid != order.grid:
            self._unlist(order.cid)
        self._open[order.cid] = order
        self._open_by_grid.setdefault(order.grid, {})[order.cid] = order
        self.settle(order)
        return order

    def discard(self, cid: str) -> None:
        """Forget an order whose placement failed (it never existed)."""
        self._unlist(cid)
        self._final.pop(cid, None)

    def settle(self, order: TrackedOrder) -> None:
        """Move ``order`` to the final LRU once its status is final."""
        if order.status.is_final and self._unlist(order.cid) is not None:
            self._final[order.cid] = order
            while len(self._final) > self.keep_final:
                self._final.popitem(last=False)

    def _unlist(self, cid: str) -> TrackedOrder | None:
        """Take ``cid`` out of the open orders; the order, if it was open."""
        order = self._open.pop(cid, None)
        if order is not None:
            mine = self._open_by_grid[order.grid]
            del mine[cid]
            if not mine:
                del self._open_by_grid[order.grid]
        return order

    def open_orders(self, grid: str | None = None) -> Iterator[TrackedOrder]:
        """The open orders (of ``grid``, or all), oldest first; a copy, so the book may
        change meanwhile."""
        orders = self._open if grid is None else self._open_by_grid.get(grid, {})
        yield from list(orders.values())

    def open_buy_notional(self, grid: str) -> Decimal:
        return sum((o.open_buy_notional for o in self.open_orders(grid)), Decimal(0))

    def __len__(self) -> int:
        return len(self._open)

    def __repr__(self) -> str:
        return f"TrackedOrders(open={len(self._open)}, final={len(self._final)})"
