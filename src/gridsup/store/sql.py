"""Small SQL helpers shared by the repositories: the dialect's INSERT (for ON CONFLICT),
optional query filters, and a Decimal context wide enough that money arithmetic never
rounds."""

from __future__ import annotations

from collections.abc import Callable
from decimal import MAX_EMAX, MIN_EMIN, Context
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# 1e12 amounts times 1e-10 prices, summed over years of trades, stay far below 80 digits.
MONEY_CONTEXT = Context(prec=80, Emax=MAX_EMAX, Emin=MIN_EMIN)


def given(**filters: Any) -> dict[str, Any]:
    """The equality filters that were given (not None), for ``Select.filter_by``."""
    return {name: value for name, value in filters.items() if value is not None}


def dialect_name(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def insert_for(session: AsyncSession, table: Any) -> Any:
    """The dialect-specific ``insert()`` (with ``on_conflict_do_*``) for ``table``.

    Raises:
        NotImplementedError: the session is bound to an engine gridsup does not support.
    """
    name = dialect_name(session)
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {name!r}")


# Built statements by (dialect, purpose): building and cache-keying an ON CONFLICT
# statement costs more than executing a batch of small rows, so it is done once.
_STATEMENTS: dict[tuple[str, str], Any] = {}


def cached_statement(session: AsyncSession, purpose: str, build: Callable[[], Any]) -> Any:
    """The statement ``build()`` makes for this session's dialect, built once."""
    key = (dialect_name(session), purpose)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


def insert_ignoring(session: AsyncSession, purpose: str, table: Any, *unique: str) -> Any:
    """The INSERT into ``table`` that skips a row whose ``unique`` columns match a stored
    one (ON CONFLICT DO NOTHING: a redelivery is a no-op), built once per dialect."""
    return cached_statement(
        session,
        purpose,
        lambda: insert_for(session, table).on_conflict_do_nothing(index_elements=list(unique)),
    )


async def execute_core(session: AsyncSession, stmt: Any, rows: Any = None) -> Any:
    """Run a Core statement on the session's connection (inside its transaction),
    skipping the ORM's execution layer that plain inserts of dicts do not need."""
    conn = await session.connection()
    if rows is None:
        return await conn.execute(stmt)
    return await conn.execute(stmt, rows)
