"""The paper engine's matching: which resting orders a price move reaches, how much
of each fills, and what one fill does to the funds, the order and the record.

Functions over an account's parts (``Ledger``, ``History``, ``Book``), called by
``PaperExchange`` once per leg of a candle's path that reaches an order, and once per
market order. A resting limit order fills at its own price with the maker fee; a
market order at the last price with the taker fee. The rules: docs/paper.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from gridsup.exchange.paper.book import Book, PaperOrder
from gridsup.exchange.paper.history import History
from gridsup.exchange.paper.ledger import Ledger
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus
from gridsup.messages.market import MarketInfo

__all__ = ["Charge", "fill", "walk"]

# (order, quantity, price, taker) -> (commission, asset): the fees-in-the-asset-received
# rule (``paper_fees``); a charge of None, or no ``Charge`` at all, keeps the
# fees-in-quote rule of ``Ledger.settle`` (the lenient one, and Kraken's: one account
# may hold orders of both rules, see ``PaperExchange.create_order``'s ``fee_mode``).
Charge = Callable[[PaperOrder, Decimal, Decimal, bool], tuple[Decimal, str] | None]


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
    *,
    charge: Charge | None = None,
    pieces: int = 1,
) -> None:
    """Fill what a move reaches: buys priced >= ``down_to`` (best first), then
    sells priced <= ``up_to`` (best first), appending the trades to ``out``. ``cap``
    bounds each order's fill in this candle; ``touched`` holds the orders that
    already used it. ``pieces`` > 1 splits each order's fill into that many trades
    (on the lot step, the last one taking the rest), as a real book's several
    counterparties would."""
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
        for part in _split(quantity, pieces, market.amount_step):
            out.append(
                fill(
                    ledger,
                    history,
                    order,
                    market,
                    order.price,
                    part,
                    timestamp,
                    taker=False,
                    charge=charge,
                )
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
    charge: Charge | None = None,
) -> Trade:
    """Book one execution: move funds, update the order, record the trade."""
    charged = charge(order, quantity, price, taker) if charge is not None else None
    if charged is None:
        fee_asset = market.quote
        fee = ledger.settle(
            market, order, quantity, price, market.taker_fee if taker else market.maker_fee
        )
    else:
        fee, fee_asset = charged
        ledger.settle_received(market, order, quantity, price, fee, fee_asset)
        if not order.fee:  # the order's fee is named after its first commission's asset
            order.fee_currency = fee_asset
    order.filled += quantity
    order.cost += quantity * price
    order.fee += fee
    if order.filled >= order.amount:
        order.status = OrderStatus.CLOSED
        # A market buy locked at the last price; what was not spent goes back.
        ledger.release(market, order)
        history.finish(order)
    return history.record(order, price, quantity, fee, fee_asset, timestamp, taker)


def _split(quantity: Decimal, pieces: int, step: Decimal | None) -> list[Decimal]:
    """``quantity`` in up to ``pieces`` parts on ``step``, the last taking the rest."""
    if pieces <= 1:
        return [quantity]
    part = quantity / pieces
    if step:
        part = (part // step) * step
    if part <= 0:
        return [quantity]
    return [part] * (pieces - 1) + [quantity - part * (pieces - 1)]
