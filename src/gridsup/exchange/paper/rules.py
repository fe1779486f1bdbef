"""Order checks of the paper engine against a market's rules: positive, on the
tick and lot size, at least the minimum amount and notional. Messages name the
value and the rule, as an exchange's rejection would."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from gridsup.exchange.errors import BelowMinimum, InvalidOrder
from gridsup.messages.market import MarketInfo

__all__ = ["check_minimums", "check_shape"]


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
