"""The paper engine's matching: which resting orders a price move reaches, how much
of each fills, and what one fill does to the funds, the order and the record.

Functions over an account's parts (``PaperBalances``, ``History``, ``Book``), called by
``PaperExchange`` once per price (:func:`walk`), once per candle (:func:`walk_candle`,
one :func:`walk` per leg of its path) and once per market order (:func:`fill`). A
resting limit order fills at its own price with the maker fee; a market order at the
last price with the taker fee. The rules: docs/paper.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from decimal import Decimal

from gridsup.exchange.paper.balances import PaperBalances
from gridsup.exchange.paper.book import Book, PaperOrder
from gridsup.exchange.paper.fees import Charge
from gridsup.exchange.paper.history import History
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus
from gridsup.messages.market import MarketInfo

__all__ = ["fill", "walk", "walk_candle"]


def walk(
    balances: PaperBalances,
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
                    balances,
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


def walk_candle(
    balances: PaperBalances,
    history: History,
    market: MarketInfo,
    book: Book,
    path: Sequence[Decimal],
    timestamp: int,
    cap: Decimal | None,
    *,
    charge: Charge | None = None,
    pieces: int = 1,
) -> list[Trade]:
    """Fill what a candle's ``path`` (``types.candle_path``) reaches, in path order:
    the orders at its first price, then those each fall or rise to the next one
    reaches. ``cap`` bounds each order's fill over the whole candle."""
    # (down_to, up_to) of each leg: first what rests at or through the open.
    legs: list[tuple[Decimal | None, Decimal | None]] = [(path[0], path[0])]
    for prev, point in itertools.pairwise(path):
        if point < prev:
            legs.append((point, None))
        elif point > prev:
            legs.append((None, point))
    out: list[Trade] = []
    touched: set[str] = set()
    for down_to, up_to in legs:
        walk(
            balances,
            history,
            market,
            book,
            down_to,
            up_to,
            timestamp,
            cap,
            out,
            touched,
            charge=charge,
            pieces=pieces,
        )
    return out


def fill(
    balances: PaperBalances,
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
        fee = balances.settle(
            market, order, quantity, price, market.taker_fee if taker else market.maker_fee
        )
    else:
        fee, fee_asset = charged
        balances.settle_received(market, order, quantity, price, fee, fee_asset)
        if not order.fee:  # the order's fee is named after its first commission's asset
            order.fee_currency = fee_asset
    order.filled += quantity
    order.cost += quantity * price
    order.fee += fee
    if order.filled >= order.amount:
        order.status = OrderStatus.CLOSED
        # A market buy locked at the last price; what was not spent goes back.
        balances.release(market, order)
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
