"""How the paper engine charges a fill's commission (docs/paper.md, "Fees").

Two modes. ``FeeMode.QUOTE`` (lenient, the engine's historical rule): every fee in the
quote asset, a buy locking ``cost*(1+fee)``. ``FeeMode.RECEIVED`` (Binance's rule): the
fee is taken from the asset the fill credits -- base for a buy, quote for a sell -- or,
when the account pays fees in BNB (``bnb_fees``) and holds enough free BNB, in BNB at
``fee*(1-bnb_discount)`` priced at the last BNB/quote price. Commissions are rounded up
to 8 decimals (Binance's commission precision; up is the harsher way for the account).
One account may hold orders of both modes (``PaperExchange.create_order``'s ``fee_mode``,
the loopback's Kraken dialect): :func:`charge_rule` is the rule its fills are charged by.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from decimal import ROUND_UP, Decimal

import msgspec

from gridsup.exchange.paper.book import PaperOrder
from gridsup.messages.common import Side
from gridsup.messages.market import MarketInfo

__all__ = ["BNB", "Charge", "FeeMode", "FeePolicy", "charge_rule", "commission"]

BNB = "BNB"
_PLACES = Decimal("0.00000001")
_ZERO = Decimal(0)


class FeeMode(enum.StrEnum):
    """Which asset a fill's commission is charged in."""

    QUOTE = "quote"  # lenient: always the quote asset
    RECEIVED = "received"  # Binance: the asset received (or BNB)


class FeePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """An account's commission rules."""

    mode: FeeMode = FeeMode.QUOTE
    bnb_fees: bool = False  # "pay fees with BNB" switched on
    bnb_discount: Decimal = Decimal("0.25")


# (order, quantity, price, taker) -> (commission, asset): the fees-in-the-asset-received
# rule; a charge of None, or no ``Charge`` at all, keeps the fees-in-quote rule of
# ``PaperBalances.settle`` (the lenient one, and Kraken's).
Charge = Callable[[PaperOrder, Decimal, Decimal, bool], tuple[Decimal, str] | None]


def charge_rule(
    policy: FeePolicy,
    modes: dict[str, FeeMode],
    markets: Mapping[str, MarketInfo],
    free: Mapping[str, Decimal],
    last_price: Callable[[str], Decimal | None],
) -> Charge | None:
    """The commission rule of an account's fills (None: every fee in quote, the lenient
    rule). ``modes`` holds the open orders placed with a mode of their own, which are
    charged by it; an order leaves ``modes`` at its last fill. ``free`` is the
    account's free balances, ``last_price`` a symbol's last price."""
    if policy.mode is FeeMode.QUOTE and not modes:
        return None

    def charge(
        order: PaperOrder, quantity: Decimal, price: Decimal, taker: bool
    ) -> tuple[Decimal, str] | None:
        mode = modes.get(order.id, policy.mode)
        if order.filled + quantity >= order.amount:
            modes.pop(order.id, None)  # its last fill: only open orders are kept
        if mode is FeeMode.QUOTE:
            return None
        market = markets[order.symbol]
        rate = market.taker_fee if taker else market.maker_fee
        return commission(
            policy if mode is policy.mode else msgspec.structs.replace(policy, mode=mode),
            market,
            order.side,
            quantity,
            price,
            rate,
            lambda asset: free.get(asset, Decimal(0)),
            last_price,
        )

    return charge


def commission(
    policy: FeePolicy,
    market: MarketInfo,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    rate: Decimal,
    free: Callable[[str], Decimal],
    last_price: Callable[[str], Decimal | None],
) -> tuple[Decimal, str]:
    """The commission of one fill as (amount, asset), under ``policy``.

    ``free`` answers an asset's free balance, ``last_price`` a symbol's last price
    (for the BNB conversion). In QUOTE mode the amount is not rounded (as before).
    """
    cost = quantity * price
    if policy.mode is FeeMode.QUOTE:
        return cost * rate, market.quote
    if policy.bnb_fees and rate > 0:
        bnb = _in_bnb(market, cost * rate * (1 - policy.bnb_discount), last_price)
        if bnb is not None and bnb > 0 and free(BNB) >= bnb:
            return bnb, BNB
    if side is Side.BUY:
        return _round(quantity * rate), market.base
    return _round(cost * rate), market.quote


def _in_bnb(
    market: MarketInfo, fee_in_quote: Decimal, last_price: Callable[[str], Decimal | None]
) -> Decimal | None:
    """``fee_in_quote`` converted to BNB at the BNB/quote price (None without one)."""
    if market.quote == BNB:
        return _round(fee_in_quote)
    bnb_price = last_price(f"{BNB}/{market.quote}")
    if not bnb_price:
        return None
    return _round(fee_in_quote / bnb_price)


def _round(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_UP) if value > _ZERO else _ZERO
