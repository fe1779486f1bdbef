"""An order's ``fee`` is the sum of its fills' fees.

Fills and order rows arrive on two channels, in any order, and an order row's own
update carries the fee the exchange reported on the order (often none). So after every
write that touched an order or a fill, the fee of each such order that has fills is set
again from its stored fills: whatever arrived last, the row ends up equal to its fills.

Money is summed in Python with ``Decimal``: SQLite stores it as text (see ``coltypes``).
Fills charged in more than one currency (some in BNB, some in the quote) have no single
sum; such an order keeps its first currency's sum and the fills say the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.models import Fill, Order

OrderKey = tuple[str, str]  # (exchange, client order id)
# Row values per IN list: well under SQLite's default limit of bound parameters.
_CHUNK = 400

_ORDERS = cast(Table, Order.__table__)
_SET_FEE = (
    update(_ORDERS)
    .where(
        _ORDERS.c.exchange == bindparam("k_exchange"),
        _ORDERS.c.client_order_id == bindparam("k_client_order_id"),
    )
    .values(fee=bindparam("k_fee"), fee_currency=bindparam("k_fee_currency"))
)


async def refresh_order_fees(session: AsyncSession, keys: Iterable[OrderKey]) -> int:
    """Set ``fee``/``fee_currency`` of the orders ``keys`` that have fills to the sum of
    their fills'; returns how many orders were given a fee.

    Raises:
        DatabaseUnavailable/RecordRefused: as any write of the session.
    """
    wanted = sorted(set(keys))
    totals: dict[OrderKey, tuple[Decimal, str | None]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        stmt = (
            select(Fill.exchange, Fill.client_order_id, Fill.fee, Fill.fee_currency)
            .where(tuple_(Fill.exchange, Fill.client_order_id).in_(chunk))
            .order_by(Fill.timestamp, Fill.id)
        )
        for exchange, client_order_id, fee, currency in await session.execute(stmt):
            if client_order_id is None:  # not selected (the IN list has no NULL)
                continue
            key = (exchange, client_order_id)
            total, first = totals.get(key, (Decimal(0), currency))
            if currency == first:
                totals[key] = (total + fee, first)
            else:
                totals[key] = (total, first)
    if totals:
        rows = [
            {
                "k_exchange": exchange,
                "k_client_order_id": client_order_id,
                "k_fee": fee,
                "k_fee_currency": currency,
            }
            for (exchange, client_order_id), (fee, currency) in totals.items()
        ]
        await session.execute(_SET_FEE, rows)
    return len(totals)
