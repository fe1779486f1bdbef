"""Small SQL helpers shared by the repositories: the dialect's INSERT (for ON CONFLICT)
and a Decimal context wide enough that money arithmetic never rounds."""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Context
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# 1e12 amounts times 1e-10 prices, summed over years of trades, stay far below 80 digits.
MONEY_CONTEXT = Context(prec=80, Emax=MAX_EMAX, Emin=MIN_EMIN)


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
