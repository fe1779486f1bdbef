"""Alembic environment of gridsup's store.

``gridsup db upgrade`` (``gridsup.store.migrate``) hands in an open connection through
``config.attributes["connection"]``; the ``alembic`` command line (for developers:
``alembic -c src/gridsup/store/migrations/alembic.ini revision --autogenerate -m ...``)
connects to ``$GRIDSUP_DB_URL`` or the default SQLite file instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from gridsup.store.coltypes import EnumValue, Money, UTCDateTime
from gridsup.store.database import Database
from gridsup.store.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our column types so a migration never depends on Python enums: an enum
    column is a plain VARCHAR in the schema."""
    if type_ != "type":
        return False
    if isinstance(obj, EnumValue):
        return f"sa.String(length={obj.impl.length})"
    if isinstance(obj, Money | UTCDateTime):
        autogen_context.imports.add("import gridsup.store.coltypes")
        return f"gridsup.store.coltypes.{type(obj).__name__}()"
    return False


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    db = Database(config.get_main_option("sqlalchemy.url") or None)
    await db.connect()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(run_on)
    finally:
        await db.disconnect()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (given := config.attributes.get("connection")) is not None:
    run_on(given)
else:
    asyncio.run(run_async())
