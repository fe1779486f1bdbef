"""Value types shared by every channel: order sides, types, statuses and the
order/fill records that strategies, exchanges and the store all speak.

Money is ``Decimal`` everywhere; msgspec encodes it as a string so nothing goes
through float on the wire.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.Enum):
    LIMIT = "limit"
    MARKET = "market"


class OrderStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"  # fully filled
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self is not OrderStatus.OPEN


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy asks for: one order, named by its deterministic client id."""

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None  # None for market orders


class FillReport(msgspec.Struct, frozen=True, kw_only=True):
    """One execution (trade) of an order, as the strategy learns of it.

    ``order_filled`` is the order's cumulative filled amount after this trade and
    ``order_closed`` says the order is done (fully filled, or cancelled after a
    partial fill) so the strategy may place the counter order for what was filled.
    """

    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    trade_id: str
    timestamp: int  # ms since the epoch, UTC
    order_filled: Decimal
    order_closed: bool
    # The fee valued in the symbol's quote when it was charged in a third asset (BNB):
    # the execution actor prices it at the fee asset's last known quote price at the
    # fill (docs/strategies.md, "Fees"). None: not needed (fee in base or quote) or
    # unknown (the fee is then counted by asset only, outside the profit).
    fee_quote: Decimal | None = None
