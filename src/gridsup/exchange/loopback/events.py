"""What the loopback exchange tells its websocket streams: an order changed (placed,
filled by a trade, cancelled), or the market traded at a price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gridsup.exchange.types import Order, Trade

__all__ = ["MarketEvent", "OrderChanged", "PriceChanged"]


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """``order`` as it is after the change; ``trade`` when a trade made it."""

    order: Order
    trade: Trade | None


@dataclass(frozen=True, slots=True)
class PriceChanged:
    symbol: str  # unified (BTC/USDT)
    price: Decimal
    timestamp: int


MarketEvent = OrderChanged | PriceChanged
