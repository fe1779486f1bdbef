"""``OrderRepository``: one row per order, upserted idempotently by (exchange, client id).

Updates are monotonic, so an old update delivered late never undoes a newer one: the
filled amount never decreases and a final status (closed, canceled, ...) never goes
back to open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.messages.common import OrderStatus
from gridsup.store.models import Order, utcnow
from gridsup.store.records import OrderRecord
from gridsup.store.sql import Where, cached_statement, execute_core, given, insert_for

_TABLE = Order.__table__
# Fields an update may change; identity (exchange, client id, strategy, symbol, side,
# type, amount, level, timestamp) is fixed at first sight.
_MUTABLE = ("status", "filled", "average", "fee", "fee_currency", "price")


def order_row(record: OrderRecord) -> dict[str, Any]:
    """The row of ``record``: its fields are the table's columns, plus the bookkeeping."""
    now = utcnow()
    return {**msgspec.structs.asdict(record), "created_at": now, "updated_at": now}


def most_advanced(records: Iterable[OrderRecord]) -> list[OrderRecord]:
    """One record per (exchange, client order id), in first-seen order: PostgreSQL refuses
    an upsert that touches the same row twice in one statement. The record kept is the
    most advanced one (final before open, more filled before less; the later one on a
    tie), which is what upserting them in order would have left."""
    best: dict[tuple[str, str], OrderRecord] = {}
    for record in records:
        key = (record.exchange, record.client_order_id)
        seen = best.get(key)
        if seen is None or _progress(record) >= _progress(seen):
            best[key] = record
    return list(best.values())


def _progress(record: OrderRecord) -> tuple[bool, Decimal]:
    return (record.status.is_final, record.filled)


def _newer(status: Any, filled: Any) -> ColumnElement[bool]:
    """The guard of every update: it may only move an order forward."""
    return and_(
        filled >= Order.filled,
        or_(Order.status == OrderStatus.OPEN, status != OrderStatus.OPEN),
    )


def upsert_statement(where: Where) -> Any:
    """Insert an order, or move the stored one forward to what the row says."""
    return cached_statement(where, "orders.upsert", lambda: _build_upsert(where))


def _build_upsert(where: Where) -> Any:
    stmt = insert_for(where, _TABLE)
    excluded = stmt.excluded
    values: dict[str, Any] = {name: excluded[name] for name in _MUTABLE}
    # A row that says no fee (most do: the exchange reports fees on the fills) keeps
    # the one stored, the sum of the order's fills (store/order_fees.py).
    no_fee = excluded.fee == Decimal(0)
    values["fee"] = case((no_fee, Order.fee), else_=excluded.fee)
    values["fee_currency"] = case((no_fee, Order.fee_currency), else_=excluded.fee_currency)
    values["exchange_order_id"] = func.coalesce(excluded.exchange_order_id, Order.exchange_order_id)
    values["updated_at"] = excluded.updated_at
    return stmt.on_conflict_do_update(
        index_elements=["exchange", "client_order_id"],
        set_=values,
        where=_newer(excluded.status, excluded.filled),
    )


def status_update(
    exchange: str,
    client_order_id: str,
    status: OrderStatus,
    *,
    filled: Decimal | None = None,
    average: Decimal | None = None,
    fee: Decimal | None = None,
    exchange_order_id: str | None = None,
) -> Any:
    """The UPDATE that moves a stored order to ``status`` (and the values given), only
    forward (see the module docstring)."""
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    for name, value in (
        ("filled", filled),
        ("average", average),
        ("fee", fee),
        ("exchange_order_id", exchange_order_id),
    ):
        if value is not None:
            values[name] = value
    return (
        update(Order)
        .where(Order.exchange == exchange, Order.client_order_id == client_order_id)
        .where(_newer(status, filled) if filled is not None else _newer(status, Order.filled))
        .values(values)
        .execution_options(synchronize_session=False)
    )


class OrderRepository:
    """Orders of every strategy. Works inside the caller's session (transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, record: OrderRecord) -> None:
        """Insert the order, or move the stored one forward to what ``record`` says."""
        await self.upsert_many([record])

    async def upsert_many(self, records: Iterable[OrderRecord]) -> None:
        rows = [order_row(r) for r in records]
        if rows:
            await execute_core(self.session, upsert_statement(self.session), rows)

    async def update_status(
        self,
        exchange: str,
        client_order_id: str,
        status: OrderStatus,
        *,
        filled: Decimal | None = None,
        average: Decimal | None = None,
        fee: Decimal | None = None,
        exchange_order_id: str | None = None,
    ) -> bool:
        """Move a stored order to ``status``; False when it is unknown or the update is
        older than what is stored (see the module docstring)."""
        stmt = status_update(
            exchange,
            client_order_id,
            status,
            filled=filled,
            average=average,
            fee=fee,
            exchange_order_id=exchange_order_id,
        )
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def get(self, exchange: str, client_order_id: str) -> Order | None:
        stmt = select(Order).where(
            Order.exchange == exchange, Order.client_order_id == client_order_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def open_orders(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        exchange: str | None = None,
    ) -> Sequence[Order]:
        """Orders still open, lowest price first."""
        return await self.history(
            strategy=strategy,
            symbol=symbol,
            exchange=exchange,
            status=OrderStatus.OPEN,
            newest_first=False,
        )

    async def history(
        self,
        *,
        strategy: str | None = None,
        symbol: str | None = None,
        exchange: str | None = None,
        status: OrderStatus | None = None,
        since: int | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> Sequence[Order]:
        """Orders matching every given filter: newest first, or by price when not."""
        stmt = select(Order).filter_by(
            **given(strategy=strategy, symbol=symbol, exchange=exchange, status=status)
        )
        if since is not None:
            stmt = stmt.where(Order.timestamp >= since)
        if newest_first:
            stmt = stmt.order_by(Order.timestamp.desc(), Order.id.desc())
        else:
            # Market orders (no price) last on both engines (their NULL defaults differ).
            stmt = stmt.order_by(Order.price.asc().nulls_last(), Order.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return (await self.session.execute(stmt)).scalars().all()
