"""Small SQL helpers shared by the repositories: the dialect's INSERT (for ON CONFLICT),
optional query filters, and a Decimal context wide enough that money arithmetic never
rounds."""

from __future__ import annotations

from collections.abc import Callable
from decimal import MAX_EMAX, MIN_EMIN, Context
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

# 1e12 amounts times 1e-10 prices, summed over years of trades, stay far below 80 digits.
MONEY_CONTEXT = Context(prec=80, Emax=MAX_EMAX, Emin=MIN_EMIN)


def given(**filters: Any) -> dict[str, Any]:
    """The equality filters that were given (not None), for ``Select.filter_by``."""
    return {name: value for name, value in filters.items() if value is not None}


# Where a statement runs: an async session, a sync connection (a group commit's, see
# group_commit), or the dialect's name itself.
Where = AsyncSession | Connection | str


def dialect_name(where: Where) -> str:
    if isinstance(where, str):
        return where
    if isinstance(where, Connection):
        return where.dialect.name
    return where.get_bind().dialect.name


def insert_for(where: Where, table: Any) -> Any:
    """The dialect-specific ``insert()`` (with ``on_conflict_do_*``) for ``table``.

    Raises:
        NotImplementedError: the session is bound to an engine gridsup does not support.
    """
    name = dialect_name(where)
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {name!r}")


# Built statements by (dialect, purpose): building and cache-keying an ON CONFLICT
# statement costs more than executing a batch of small rows, so it is done once.
_STATEMENTS: dict[tuple[str, str], Any] = {}


def cached_statement(where: Where, purpose: str, build: Callable[[], Any]) -> Any:
    """The statement ``build()`` makes for this dialect, built once."""
    key = (dialect_name(where), purpose)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


def insert_ignoring(where: Where, purpose: str, table: Any, *unique: str) -> Any:
    """The INSERT into ``table`` that skips a row whose ``unique`` columns match a stored
    one (ON CONFLICT DO NOTHING: a redelivery is a no-op), built once per dialect."""
    return cached_statement(
        where,
        purpose,
        lambda: insert_for(where, table).on_conflict_do_nothing(index_elements=list(unique)),
    )


async def execute_core(session: AsyncSession, stmt: Any, rows: Any = None) -> Any:
    """Run a Core statement on the session's connection (inside its transaction),
    skipping the ORM's execution layer that plain inserts of dicts do not need."""
    conn = await session.connection()
    if rows is None:
        return await conn.execute(stmt)
    return await conn.execute(stmt, rows)
