"""The one place a ``FillReport`` is built from an exchange's ``Trade``.

The execution actor (live and dry-run, and when it re-records a restored paper
account's trades) and the backtest context all tell a strategy of a fill the same way:
the trade's price, amount and fee, plus where the order stands after it.
"""

from __future__ import annotations

from decimal import Decimal

from gridsup.exchange.types import Trade
from gridsup.messages.common import FillReport


def fill_report(
    trade: Trade,
    *,
    order_filled: Decimal,
    order_closed: bool,
    client_order_id: str | None = None,
    fee_quote: Decimal | None = None,
) -> FillReport:
    """The strategy's report of ``trade``.

    ``order_filled`` is the order's cumulative filled amount after this trade and
    ``order_closed`` whether the order is done; ``client_order_id`` defaults to the
    trade's own ("" when the exchange did not echo one); ``fee_quote`` is a third-asset
    fee's value in quote (None when not needed or unknown).
    """
    return FillReport(
        client_order_id=client_order_id or trade.client_order_id or "",
        symbol=trade.symbol,
        side=trade.side,
        price=trade.price,
        amount=trade.amount,
        fee=trade.fee,
        fee_currency=trade.fee_currency,
        trade_id=trade.id,
        timestamp=trade.timestamp,
        order_filled=order_filled,
        order_closed=order_closed,
        fee_quote=fee_quote,
    )
