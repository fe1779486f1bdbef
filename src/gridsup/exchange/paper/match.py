"""The paper engine's matching: which resting orders a price move reaches, how much
of each fills, and what one fill does to the funds, the order and the record.

Functions over an account's parts (``Ledger``, ``History``, ``Book``), called by
``PaperExchange`` once per leg of a candle's path that reaches an order, and once per
market order. A resting limit order fills at its own price with the maker fee; a
market order at the last price with the taker fee. The rules: docs/paper.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from gridsup.exchange.paper.book import Book, PaperOrder
from gridsup.exchange.paper.history import History
from gridsup.exchange.paper.ledger import Ledger
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus
from gridsup.messages.market import MarketInfo

__all__ = ["fill", "walk"]


def walk(
    ledger: Ledger,
    history: History,
    market: MarketInfo,
    book: Book,
    down_to: Decimal | None,
    up_to: Decimal | None,
    timestamp: int,
    cap: Decimal | None,
    out: list[Trade],
    touched: set[str] | None = None,
) -> None:
    """Fill what a move reaches: buys priced >= ``down_to`` (best first), then
    sells priced <= ``up_to`` (best first), appending the trades to ``out``. ``cap``
    bounds each order's fill in this candle; ``touched`` holds the orders that
    already used it."""
    reached: Iterable[PaperOrder] = ()
    if down_to is not None:
        reached = book.buys_at_or_above(down_to)
    if up_to is not None:
        reached = [*reached, *book.sells_at_or_below(up_to)]
    for order in reached:
        if touched is not None:
            if order.id in touched:
                continue
            touched.add(order.id)
        quantity = order.amount - order.filled
        if cap is not None:
            quantity = min(quantity, cap)
        if quantity <= 0:
            continue
        assert order.price is not None  # only limit orders rest in a book
        out.append(
            fill(ledger, history, order, market, order.price, quantity, timestamp, taker=False)
        )
        if order.status is not OrderStatus.OPEN:
            book.remove(order)


def fill(
    ledger: Ledger,
    history: History,
    order: PaperOrder,
    market: MarketInfo,
    price: Decimal,
    quantity: Decimal,
    timestamp: int,
    *,
    taker: bool,
) -> Trade:
    """Book one execution: move funds, update the order, record the trade."""
    fee = ledger.settle(
        market, order, quantity, price, market.taker_fee if taker else market.maker_fee
    )
    order.filled += quantity
    order.cost += quantity * price
    order.fee += fee
    if order.filled >= order.amount:
        order.status = OrderStatus.CLOSED
        # A market buy locked at the last price; what was not spent goes back.
        ledger.release(market, order)
        history.finish(order)
    return history.record(order, price, quantity, fee, market.quote, timestamp, taker)
