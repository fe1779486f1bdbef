"""What every part of the execution desk works with: the orders it tracks, the venue
they go to, the booking of what the venue says, the admission of requests and the
placements and cancels under way; and an order's trades fetched for the booking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from gridsup.actors.execution.admission import Admission
from gridsup.actors.execution.booking import Booking
from gridsup.actors.execution.inflight import InFlight
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.execution.venue import Venue
from gridsup.exchange.types import Order, Trade


@dataclass(frozen=True, slots=True)
class Workbench:
    """See the module docstring. One per desk, shared by its parts."""

    book: TrackedOrders
    venue: Venue
    booking: Booking
    admission: Admission
    inflight: InFlight

    async def price_fees(self, trades: Iterable[Trade]) -> None:
        """Fresh prices for the fees of ``trades`` paid in a third asset (``fees``), so
        that :meth:`Booking.absorb` values them without a request. Never raises."""
        await self.booking.fee_prices.prepare(self.venue, trades, self.booking.assets_of)

    async def trades_to_book(self, order: Order, booked: Decimal = Decimal(0)) -> list[Trade]:
        """The trades of ``order``, their fees priced; the venue is asked only when the
        order filled more than ``booked``.

        Raises:
            ExchangeError: the venue could not be asked for the trades.
        """
        trades = await self.venue.trades_of(order) if order.filled > booked else []
        await self.price_fees(trades)
        return trades
