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

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, distinct, func, select, tuple_, update
from sqlalchemy.engine import Connection
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


# The orders' keys are one expanding parameter ("keys"), so that each statement is built
# and cache-keyed once.
_KEYS = tuple_(_FILLS.c.exchange, _FILLS.c.client_order_id).in_(bindparam("keys", expanding=True))
# PostgreSQL sums in SQL.
_SUMS = (
    select(
        _FILLS.c.exchange,
        _FILLS.c.client_order_id,
        func.sum(_FILLS.c.fee).label("fee"),
        func.min(_FILLS.c.fee_currency).label("currency"),
    )
    .where(_KEYS)
    .group_by(_FILLS.c.exchange, _FILLS.c.client_order_id)
    .having(func.count(distinct(_FILLS.c.fee_currency)) <= 1)
    .subquery()
)
_SUM_IN_SQL = (
    update(_ORDERS)
    .where(
        _ORDERS.c.exchange == _SUMS.c.exchange,
        _ORDERS.c.client_order_id == _SUMS.c.client_order_id,
    )
    .values(fee=_SUMS.c.fee, fee_currency=_SUMS.c.currency)
)
# SQLite: the fees of the orders' fills, summed in Python by _fee_rows.
_FILLS_OF = select(
    _FILLS.c.exchange, _FILLS.c.client_order_id, _FILLS.c.fee, _FILLS.c.fee_currency
).where(_KEYS)


async def refresh_order_fees(session: AsyncSession, keys: Iterable[OrderKey]) -> None:
    """Set ``fee``/``fee_currency`` of the orders ``keys`` that have fills (in one
    currency) to the sum of their fills'.

    Raises:
        DatabaseUnavailable/RecordRefused: as any write of the session.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    for chunk in _chunks(keys):
        if postgres:
            await execute_core(session, _SUM_IN_SQL, {"keys": chunk})
        else:
            rows = _fee_rows(await execute_core(session, _FILLS_OF, {"keys": chunk}))
            if rows:
                await execute_core(session, _SET_FEE, rows)


def refresh_order_fees_on(conn: Connection, keys: Iterable[OrderKey]) -> None:
    """:func:`refresh_order_fees` on a sync connection (a group commit's)."""
    postgres = conn.dialect.name == "postgresql"
    for chunk in _chunks(keys):
        if postgres:
            conn.execute(_SUM_IN_SQL, {"keys": chunk})
        else:
            rows = _fee_rows(conn.execute(_FILLS_OF, {"keys": chunk}))
            if rows:
                conn.execute(_SET_FEE, rows)


def _chunks(keys: Iterable[OrderKey]) -> Iterator[list[OrderKey]]:
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


def _fee_rows(fills: Iterable[Any]) -> list[dict[str, Any]]:
    """The ``_SET_FEE`` rows of the orders whose ``fills`` (exchange, client order id,
    fee, currency) are charged in one currency."""
    totals: dict[OrderKey, tuple[Decimal, set[str]]] = {}
    for exchange, client_order_id, fee, currency in fills:
        total, currencies = totals.setdefault((exchange, client_order_id), (Decimal(0), set()))
        if currency is not None:
            currencies.add(currency)
        totals[(exchange, client_order_id)] = (total + fee, currencies)
    return [
        {
            "k_exchange": exchange,
            "k_client_order_id": client_order_id,
            "k_fee": fee,
            "k_fee_currency": next(iter(currencies), None),
        }
        for (exchange, client_order_id), (fee, currencies) in totals.items()
        if len(currencies) <= 1
    ]
