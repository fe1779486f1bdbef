"""Market channel: ticks published by the market-data actor, per symbol, and the
trading rules of a market (precision and limits) that strategies size orders with."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from gridsup.messages.codec import Codec


class Tick(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Latest price of one symbol. Latest value wins: a subscriber may drop ticks."""

    symbol: str
    timestamp: int  # ms since the epoch, UTC
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None


class MarketInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Precision and limits of one market, as the exchange states them.

    ``price_step``/``amount_step`` are tick and lot sizes (None when unknown);
    ``min_amount``/``min_notional`` are the smallest order the exchange accepts.
    """

    symbol: str
    base: str
    quote: str
    price_step: Decimal | None = None
    amount_step: Decimal | None = None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")


# The market channel's union has a single member today; new tick-like messages join it
# here (with defaults for new fields, never a changed type).
MarketMessage = Tick


MARKET_CODEC: Codec[MarketMessage] = Codec("market", MarketMessage)
