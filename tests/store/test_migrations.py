"""Alembic: an empty database upgrades to head, and models never drift from migrations."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, inspect
from sqlalchemy.engine import Connection

from gridsup.store.database import Database
from gridsup.store.migrate import current_revision, head_revision, upgrade
from gridsup.store.models import Base
from postgres import scratch_database

from .conftest import require_postgres


async def diff_against(db: Database, metadata: MetaData) -> list[Any]:
    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with db.engine.connect() as conn:
        return await conn.run_sync(compare)


async def test_empty_database_upgrades_to_head(empty_db: Database) -> None:
    assert await current_revision(empty_db) is None
    assert await upgrade(empty_db) == head_revision()
    assert await upgrade(empty_db) == head_revision()  # a second upgrade is a no-op
    async with empty_db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_models_and_migrations_do_not_drift(empty_db: Database) -> None:
    await upgrade(empty_db)
    assert await diff_against(empty_db, Base.metadata) == []


async def test_the_drift_check_sees_a_model_change(empty_db: Database) -> None:
    """The check above could fail: a column added to a model but not migrated shows."""
    await upgrade(empty_db)
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["orders"].append_column(Column("note", String(20)))
    drifted.tables["fills"].c.taker.type = Integer()
    diffs = await diff_against(empty_db, drifted)
    assert any(d[0] == "add_column" and d[3].name == "note" for d in diffs if isinstance(d, tuple))


def test_members_started_together_migrate_one_after_the_other() -> None:
    """Cluster members started at once on an empty PostgreSQL database all run the
    upgrade (separate processes, as `gridsup start` does): they take turns, the later
    ones finding it done, instead of failing on the catalog's unique index with
    concurrent CREATE TABLEs."""
    require_postgres()
    with scratch_database("gsmigrate") as url:
        command = [sys.executable, "-m", "gridsup", "db", "upgrade", "--db", url]
        procs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(3)
        ]
        outputs = [(proc.wait(60), proc.communicate()[0]) for proc in procs]
    assert [code for code, _ in outputs] == [0, 0, 0], outputs
    assert all(f"revision {head_revision()}" in out for _, out in outputs), outputs
