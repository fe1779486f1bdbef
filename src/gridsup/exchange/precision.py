"""Order sizing against a market's precision and limits, in ``Decimal``.

Prices round to the nearest tick (half up, as ccxt's ``price_to_precision`` does),
amounts round down to the lot step (never more than asked, as ``amount_to_precision``
does). Every rounding names its mode explicitly: ccxt changes the rounding of the
current decimal context, so nothing here may rely on the context's default.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from gridsup.exchange.errors import BelowMinimum, InvalidOrder
from gridsup.exchange.types import Market

__all__ = ["check_minimums", "prepare_order", "round_amount", "round_price", "round_to_step"]


def round_to_step(value: Decimal, step: Decimal, *, rounding: str) -> Decimal:
    """``value`` rounded to a whole multiple of ``step`` (keeps the step's exponent).

    Raises:
        ValueError: ``step`` is not positive.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step.normalize()) if units else Decimal(0)


def round_price(market: Market, price: Decimal) -> Decimal:
    """The price rounded half up to the market's tick (unchanged if the tick is unknown)."""
    if market.price_step is None:
        return price
    return round_to_step(price, market.price_step, rounding=ROUND_HALF_UP)


def round_amount(market: Market, amount: Decimal) -> Decimal:
    """The amount rounded down to the market's lot step (unchanged if the step is unknown)."""
    if market.amount_step is None:
        return amount
    return round_to_step(amount, market.amount_step, rounding=ROUND_DOWN)


def check_minimums(market: Market, amount: Decimal, price: Decimal | None) -> None:
    """Refuse an order under the market's minimum amount or notional.

    ``price`` is the limit price, or the last price for a market order (None skips the
    notional check: it cannot be known).

    Raises:
        BelowMinimum: the message names the minimum that was missed.
        InvalidOrder: the amount or price is not positive.
    """
    if amount <= 0:
        raise InvalidOrder(f"{market.symbol}: amount must be positive, got {amount}")
    if price is not None and price <= 0:
        raise InvalidOrder(f"{market.symbol}: price must be positive, got {price}")
    if market.min_amount is not None and amount < market.min_amount:
        raise BelowMinimum(
            f"{market.symbol}: amount {amount} is below the minimum amount {market.min_amount}"
        )
    if market.min_notional is not None and price is not None:
        notional = amount * price
        if notional < market.min_notional:
            raise BelowMinimum(
                f"{market.symbol}: notional {notional} ({amount} x {price}) is below the "
                f"minimum notional {market.min_notional}"
            )


def prepare_order(
    market: Market, amount: Decimal, price: Decimal | None, reference_price: Decimal | None = None
) -> tuple[Decimal, Decimal | None]:
    """Round ``amount``/``price`` to the market and check the minimums on the result.

    ``reference_price`` stands in for ``price`` in the notional check of a market order.

    Raises:
        BelowMinimum: the rounded order is under the minimum amount or notional.
        InvalidOrder: amount or price is not positive (before or after rounding).
    """
    rounded_amount = round_amount(market, amount)
    rounded_price = None if price is None else round_price(market, price)
    if amount > 0 and rounded_amount <= 0:
        raise BelowMinimum(
            f"{market.symbol}: amount {amount} rounds to zero on the lot step "
            f"{market.amount_step} (minimum amount {market.min_amount})"
        )
    check_minimums(
        market, rounded_amount, rounded_price if rounded_price is not None else reference_price
    )
    return rounded_amount, rounded_price
