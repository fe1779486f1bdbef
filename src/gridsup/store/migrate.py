"""Run the store's Alembic migrations from code (``gridsup db upgrade``/``current``)."""

from __future__ import annotations

from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from gridsup.store.database import Database
from gridsup.store.errors import DatabaseConfigError
from gridsup.store.locks import namespaced_key

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Cluster members started together on an empty PostgreSQL database all run the upgrade:
# they take turns on this transaction-level advisory lock (a later one finds the work
# done), where concurrent CREATE TABLEs fail on the catalog's unique index.
MIGRATION_LOCK_KEY = namespaced_key("migrate")


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of gridsup."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships no migration"
    return head


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is ``head`` or the id of one of gridsup's migrations (alembic's
    own look-up accepts partial ids and raises several error types for odd text)."""
    script = ScriptDirectory.from_config(alembic_config())
    return revision in {"head", *(r.revision for r in script.walk_revisions())}


async def upgrade(db: Database, revision: str = "head") -> str | None:
    """Migrate ``db`` (connected) to ``revision``; returns the revision it is at after.

    Raises:
        DatabaseUnavailable: the database stopped answering.
        DatabaseConfigError: ``revision`` is not one of gridsup's migrations.
    """
    config = alembic_config()

    def run(connection: Connection) -> str | None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            current = await conn.run_sync(run)
    except SQLAlchemyError as exc:
        raise db.classify(exc) from exc
    except CommandError as exc:  # an unknown --revision
        raise DatabaseConfigError(f"revision {revision[:40]!r}: {exc}") from None
    log.info("database_migrated", url=db.safe_url, revision=current)
    return current


async def current_revision(db: Database) -> str | None:
    """The revision ``db`` is at (None for an empty database).

    Raises:
        DatabaseUnavailable: the database stopped answering.
    """

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(read)
    except SQLAlchemyError as exc:
        raise db.classify(exc) from exc
