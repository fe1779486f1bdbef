"""An order intent and one of its fills: the sample payload of the message tests."""

from __future__ import annotations

from decimal import Decimal

from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side

INTENT = OrderIntent(
    client_order_id="gs1a2b3c0001B0",
    symbol="BTC/USDT",
    side=Side.BUY,
    type=OrderType.LIMIT,
    amount=Decimal("0.00100000"),  # trailing zeros: the exponent must survive the wire
    price=Decimal("64999.99"),
)
FILL = FillReport(
    client_order_id=INTENT.client_order_id,
    symbol="BTC/USDT",
    side=Side.BUY,
    price=Decimal("64999.99"),
    amount=Decimal("0.0005"),
    fee=Decimal("0.0000005"),
    fee_currency="BTC",
    trade_id="t-1",
    timestamp=1_700_000_000_000,
    order_filled=Decimal("0.0005"),
    order_closed=False,
)
