"""Order checks of the paper engine against a market's rules: positive, on the
tick and lot size, at least the minimum amount and notional; and what a new order is
against the last price (:func:`admit`: a market order's fill price, whether a limit
order crosses). Messages name the value and the rule, as an exchange's rejection would."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from gridsup.exchange.errors import BelowMinimum, InvalidOrder, OrderWouldTake
from gridsup.messages.common import OrderType, Side
from gridsup.messages.market import MarketInfo

__all__ = ["Admission", "admit", "check_minimums", "check_shape"]


class Admission(NamedTuple):
    """A new order the rules let in: its limit ``price`` (None for a market order), the
    ``fill_price`` its funds are locked at, and whether it fills at once as ``taker``."""

    price: Decimal | None
    fill_price: Decimal
    taker: bool


def admit(
    market: MarketInfo,
    side: Side,
    type: OrderType,
    amount: Decimal,
    price: Decimal | None,
    last: Decimal | None,
    *,
    post_only: bool,
    taker_on_cross: bool,
) -> Admission:
    """Check a new order against ``market`` and the ``last`` price: a market order
    fills at the last price, a limit order that crosses it fills at once as taker
    with ``taker_on_cross`` (and rests otherwise), unless ``post_only`` refuses it.

    Raises:
        InvalidOrder: a market order before any price, a limit order without one, or
            a shape :func:`check_shape` refuses.
        BelowMinimum: under the market's minimum amount or notional.
        OrderWouldTake: a ``post_only`` order would match at once.
    """
    if type is OrderType.MARKET:
        if last is None:
            raise InvalidOrder(
                f"no price known yet for {market.symbol}: cannot fill a market order"
            )
        fill_price, price = last, None
    elif price is None:
        raise InvalidOrder("a limit order needs a price")
    else:
        fill_price = price
    check_shape(market, amount, price)
    check_minimums(market, amount, fill_price)
    crosses = (
        price is not None
        and last is not None
        and (price >= last if side is Side.BUY else price <= last)
    )
    if crosses and post_only:
        raise OrderWouldTake(f"{side.value} limit {price} crosses the last price {last}")
    return Admission(price, fill_price, type is OrderType.MARKET or (crosses and taker_on_cross))


def check_shape(market: MarketInfo, amount: Decimal, price: Decimal | None) -> None:
    """Refuse a non-positive amount or price, or one off the market's step.

    Raises:
        InvalidOrder: naming the value and the step.
    """
    if not amount.is_finite() or amount <= 0:
        raise InvalidOrder(f"amount must be positive, got {amount}")
    if price is not None and (not price.is_finite() or price <= 0):
        raise InvalidOrder(f"price must be positive, got {price}")
    if not _on_step(amount, market.amount_step):
        raise InvalidOrder(
            f"amount {amount} is not a multiple of the lot size {market.amount_step}"
        )
    if price is not None and not _on_step(price, market.price_step):
        raise InvalidOrder(f"price {price} is not a multiple of the tick size {market.price_step}")


def _on_step(value: Decimal, step: Decimal | None) -> bool:
    if not step:
        return True
    try:
        return value % step == 0
    except InvalidOperation:  # quotient beyond the context's precision: far off any step
        return False


def check_minimums(market: MarketInfo, amount: Decimal, price: Decimal) -> None:
    """Refuse an order under the market's minimum amount or notional.

    Raises:
        BelowMinimum: naming the minimum.
    """
    if market.min_amount is not None and amount < market.min_amount:
        raise BelowMinimum(
            f"amount {amount} is below the minimum amount {market.min_amount} of {market.symbol}"
        )
    notional = amount * price
    if market.min_notional is not None and notional < market.min_notional:
        raise BelowMinimum(
            f"notional {notional} {market.quote} is below the minimum notional "
            f"{market.min_notional} of {market.symbol}"
        )
