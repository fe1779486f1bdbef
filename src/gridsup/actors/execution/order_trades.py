"""An order's trades as the booking takes them: asked of the venue only when the order
filled more than is booked, and with a fresh price for every fee paid in a third asset
(``fees``), so that :meth:`Booking.absorb` values them without a request."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from gridsup.actors.execution.booking import Booking
from gridsup.actors.execution.venue import Venue
from gridsup.exchange.types import Order, Trade


async def price_fees(venue: Venue, booking: Booking, trades: Iterable[Trade]) -> None:
    """Fresh prices for the third-asset fees of ``trades``. Never raises (``fees``)."""
    await booking.fee_prices.prepare(venue, trades, booking.assets_of)


async def trades_to_book(
    venue: Venue, booking: Booking, order: Order, booked: Decimal = Decimal(0)
) -> list[Trade]:
    """The trades of ``order`` (none asked for unless it filled more than ``booked``),
    their fees priced.

    Raises:
        ExchangeError: the venue could not be asked for the trades.
    """
    trades = await venue.trades_of(order) if order.filled > booked else []
    await price_fees(venue, booking, trades)
    return trades
