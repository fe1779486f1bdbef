"""An order's ``fee`` is the sum of its fills' fees.

Fills and order rows arrive on two channels, in any order, and an order row's own
update carries the fee the exchange reported on the order (often none). So after every
write that stored a fill or moved a (partly) filled order, the fee of each such order
is set again from its stored fills: whatever arrived last, the row ends up equal to its
fills. Fills charged in more than one currency (some in BNB, some in the quote) have no
single sum: such an order keeps the fee the exchange reported on it.

PostgreSQL sums in SQL (``NUMERIC`` is exact); SQLite stores money as text (see
``coltypes``), so there the fills are read and summed in Python with ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, Update, bindparam, distinct, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.models import Fill, Order
from gridsup.store.sql import execute_core

OrderKey = tuple[str, str]  # (exchange, client order id)
# Row values per IN list: well under SQLite's default limit of bound parameters.
_CHUNK = 400

_ORDERS = cast(Table, Order.__table__)
_FILLS = cast(Table, Fill.__table__)
_SET_FEE = (
    update(_ORDERS)
    .where(
        _ORDERS.c.exchange == bindparam("k_exchange"),
        _ORDERS.c.client_order_id == bindparam("k_client_order_id"),
    )
    .values(fee=bindparam("k_fee"), fee_currency=bindparam("k_fee_currency"))
)


async def refresh_order_fees(session: AsyncSession, keys: Iterable[OrderKey]) -> None:
    """Set ``fee``/``fee_currency`` of the orders ``keys`` that have fills (in one
    currency) to the sum of their fills'.

    Raises:
        DatabaseUnavailable/RecordRefused: as any write of the session.
    """
    wanted = sorted(set(keys))
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        if postgres:
            await execute_core(session, _sum_in_sql(chunk))
        else:
            await _sum_in_python(session, chunk)


def _sum_in_sql(chunk: list[OrderKey]) -> Update:
    sums = (
        select(
            _FILLS.c.exchange,
            _FILLS.c.client_order_id,
            func.sum(_FILLS.c.fee).label("fee"),
            func.min(_FILLS.c.fee_currency).label("currency"),
        )
        .where(tuple_(_FILLS.c.exchange, _FILLS.c.client_order_id).in_(chunk))
        .group_by(_FILLS.c.exchange, _FILLS.c.client_order_id)
        .having(func.count(distinct(_FILLS.c.fee_currency)) <= 1)
        .subquery()
    )
    return (
        update(_ORDERS)
        .where(
            _ORDERS.c.exchange == sums.c.exchange,
            _ORDERS.c.client_order_id == sums.c.client_order_id,
        )
        .values(fee=sums.c.fee, fee_currency=sums.c.currency)
    )


async def _sum_in_python(session: AsyncSession, chunk: list[OrderKey]) -> None:
    totals: dict[OrderKey, tuple[Decimal, set[str]]] = {}
    stmt = select(
        _FILLS.c.exchange, _FILLS.c.client_order_id, _FILLS.c.fee, _FILLS.c.fee_currency
    ).where(tuple_(_FILLS.c.exchange, _FILLS.c.client_order_id).in_(chunk))
    for exchange, client_order_id, fee, currency in await execute_core(session, stmt):
        total, currencies = totals.setdefault((exchange, client_order_id), (Decimal(0), set()))
        if currency is not None:
            currencies.add(currency)
        totals[(exchange, client_order_id)] = (total + fee, currencies)
    rows = [
        {
            "k_exchange": exchange,
            "k_client_order_id": client_order_id,
            "k_fee": fee,
            "k_fee_currency": next(iter(currencies), None),
        }
        for (exchange, client_order_id), (fee, currencies) in totals.items()
        if len(currencies) <= 1
    ]
    if rows:
        await execute_core(session, _SET_FEE, rows)
