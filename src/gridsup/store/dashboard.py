"""Reads for the web dashboard (per-grid summaries, paged order and fill history, profit
over time) and the audit log of grid actions. Plain dicts of JSON-ready values: money as
exact decimal strings, exchange times as ms since the epoch.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from gridsup.messages.common import OrderStatus
from gridsup.store.database import Database
from gridsup.store.models import AuditEntry, Fill, Order, Trade

MAX_PAGE = 500  # rows per page, whatever the caller asks
MAX_SERIES = 5000  # points of a profit or fill series


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _order_item(o: Order, *, status: bool = True) -> dict[str, Any]:
    """An order as the dashboard's API shows it (``status``: with its status)."""
    item: dict[str, Any] = {"client_order_id": o.client_order_id, "side": o.side.value}
    if status:
        item["status"] = o.status.value
    item.update(
        price=_money(o.price),
        amount=_money(o.amount),
        filled=_money(o.filled),
        level=o.level,
        timestamp=o.timestamp,
    )
    return item


async def grid_summaries(db: Database) -> dict[str, dict[str, Any]]:
    """Grid name -> booked profit and fees (closed cycles, in quote), fills and the time
    of the last one. Grids without a row are absent."""
    out: dict[str, dict[str, Any]] = {}
    async with db.session() as session:
        # Summed here, not in SQL: money is sortable text on SQLite (exact, not summable).
        trades = await session.execute(
            select(Trade.strategy, Trade.profit, Trade.fee).where(Trade.is_open.is_(False))
        )
        sums: dict[str, list[Any]] = {}
        for strategy, profit, fee in trades.all():
            acc = sums.setdefault(strategy, [0, Decimal(0), Decimal(0)])
            acc[0] += 1
            acc[1] += profit or Decimal(0)
            acc[2] += fee or Decimal(0)
        for strategy, (count, profit, fee) in sums.items():
            out[strategy] = {"cycles_booked": count, "profit": str(profit), "fees": str(fee)}
        fills = await session.execute(
            select(Fill.strategy, func.count(Fill.id), func.max(Fill.timestamp))
            .where(Fill.strategy.is_not(None))
            .group_by(Fill.strategy)
        )
        for name, count, last in fills.all():
            row = out.setdefault(str(name), {"profit": "0", "fees": "0", "cycles_booked": 0})
            row["fills"] = int(count)
            row["last_fill"] = None if last is None else int(last)
    return out


def _page(offset: int, limit: int) -> tuple[int, int]:
    return max(0, offset), max(1, min(limit, MAX_PAGE))


class BadCursor(ValueError):
    """A ``before`` cursor that this module did not hand out."""


def _cursor(row: Order | Fill) -> str:
    return f"{row.timestamp}.{row.id}"


def _parse_cursor(cursor: str) -> tuple[int, int]:
    ts, _, row_id = cursor.partition(".")
    try:
        return int(ts), int(row_id)
    except ValueError:
        raise BadCursor(f"not a cursor of this API: {cursor[:40]!r}") from None


async def _history_page(
    db: Database,
    model: type[Order] | type[Fill],
    grid: str,
    offset: int,
    limit: int,
    before: str | None,
) -> tuple[int, int, int, list[Any], str | None]:
    """Newest first, by (timestamp, id). With ``before`` (the ``next`` of an earlier page)
    the page starts right after that row, so rows written meanwhile neither repeat nor
    shift it; without, ``offset`` rows are skipped (a page number's view). The total is
    counted by the same statement, so it agrees with the rows while the grid trades on."""
    offset, limit = _page(offset, limit)
    every = aliased(model)  # not correlated with the page's rows: the grid's whole count
    count = select(func.count(every.id)).where(every.strategy == grid)
    stmt = select(model, count.scalar_subquery()).where(model.strategy == grid)
    if before is not None:
        ts, row_id = _parse_cursor(before)
        stmt = stmt.where(or_(model.timestamp < ts, and_(model.timestamp == ts, model.id < row_id)))
        offset = 0
    async with db.session() as session:
        found = (
            await session.execute(
                stmt.order_by(model.timestamp.desc(), model.id.desc()).offset(offset).limit(limit)
            )
        ).all()
        total = found[0][1] if found else await session.scalar(count)
    rows: list[Any] = [row for row, _ in found]
    after = _cursor(rows[-1]) if len(rows) == limit else None
    return int(total or 0), offset, limit, rows, after


async def orders_page(
    db: Database, grid: str, offset: int = 0, limit: int = 50, before: str | None = None
) -> dict[str, Any]:
    """The grid's orders, newest first, ``limit`` from ``offset`` (or after the cursor
    ``before``), how many in all and the cursor of the next page (``next``, or None)."""
    total, offset, limit, rows, after = await _history_page(db, Order, grid, offset, limit, before)
    items = [_order_item(o) for o in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items, "next": after}


async def fills_page(
    db: Database, grid: str, offset: int = 0, limit: int = 50, before: str | None = None
) -> dict[str, Any]:
    """The grid's fills, newest first, paged as :func:`orders_page`."""
    total, offset, limit, rows, after = await _history_page(db, Fill, grid, offset, limit, before)
    items = [fill_item(f) for f in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items, "next": after}


def fill_item(f: Fill) -> dict[str, Any]:
    return {
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
        "side": f.side.value,
        "price": _money(f.price),
        "amount": _money(f.amount),
        "fee": _money(f.fee),
        "fee_currency": f.fee_currency,
        "timestamp": f.timestamp,
    }


async def recent_fills(db: Database, grid: str, limit: int = MAX_SERIES) -> list[dict[str, Any]]:
    """The grid's last ``limit`` fills, oldest first (chart markers)."""
    async with db.session() as session:
        rows = await session.execute(
            select(Fill)
            .where(Fill.strategy == grid)
            .order_by(Fill.timestamp.desc(), Fill.id.desc())
            .limit(min(limit, MAX_SERIES))
        )
        items = [fill_item(f) for f in rows.scalars()]
    items.reverse()
    return items


async def profit_series(db: Database, grid: str) -> list[dict[str, Any]]:
    """Cumulative booked profit of the grid at each closed cycle (the last
    :data:`MAX_SERIES`), oldest first."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Trade.opened_at, Trade.closed_at, Trade.profit)
                .where(Trade.strategy == grid, Trade.is_open.is_(False))
                .order_by(Trade.closed_at.desc(), Trade.id.desc())
                .limit(MAX_SERIES)
            )
        ).all()
    total = Decimal(0)
    out: list[dict[str, Any]] = []
    for opened_at, closed_at, profit in reversed(rows):
        if not out:  # the series starts at zero, when its first cycle opened
            out.append({"timestamp": opened_at, "profit": "0"})
        total += profit or Decimal(0)
        out.append({"timestamp": closed_at, "profit": str(total)})
    return out


async def record_action(
    db: Database, *, actor: str, action: str, grid: str, outcome: str, detail: str = ""
) -> None:
    """Append one audit row.

    Raises:
        DatabaseUnavailable: the database did not answer.
        RecordRefused: a value did not fit.
    """
    async with db.session() as session:
        session.add(
            AuditEntry(
                at=dt.datetime.now(dt.UTC),
                actor=actor[:64],
                action=action[:16],
                grid=grid[:64],
                outcome=outcome[:24],
                detail=detail,
            )
        )


async def audit_entries(
    db: Database, grid: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest audit rows (of one grid, or all), newest first."""
    stmt = select(AuditEntry)
    if grid is not None:
        stmt = stmt.where(AuditEntry.grid == grid)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(min(limit, MAX_PAGE))
    async with db.session() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return [
        {
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "grid": r.grid,
            "outcome": r.outcome,
            "detail": r.detail,
        }
        for r in rows
    ]


async def open_orders(db: Database, grid: str) -> list[dict[str, Any]]:
    """The grid's orders the database knows as open, by price."""
    async with db.session() as session:
        rows = await session.execute(
            select(Order)
            .where(Order.strategy == grid, Order.status == OrderStatus.OPEN)
            .order_by(Order.price)
            .limit(MAX_PAGE)
        )
        return [_order_item(o, status=False) for o in rows.scalars()]
