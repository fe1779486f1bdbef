"""``gridsup db upgrade`` / ``gridsup db current``, and the database plumbing every
database-reading command shares (``--db``, error mapping, exit codes).

Exit codes: 0 success, 1 the database is unreachable, 2 the URL is wrong (or names a
database without gridsup's tables).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from gridsup.store.database import Database

T = TypeVar("T")

EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2

db_option = click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="Database URL (default: $GRIDSUP_DB_URL, else sqlite in the data directory).",
)


class SchemaMissing(Exception):
    """The database has no gridsup tables yet."""


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"gridsup: {message}", err=True)
    raise SystemExit(code)


def run_with_db(url: str | None, action: Callable[[Database], Awaitable[T]]) -> T:
    """Connect to the database, run ``action``, disconnect; store errors become one line
    on stderr and an exit code, never a traceback."""
    from gridsup.logging import configure_logging
    from gridsup.store.database import Database
    from gridsup.store.errors import DatabaseConfigError, DatabaseUnavailable

    configure_logging("WARNING")  # stdout is for the command's output (tables, JSON)

    async def main() -> T:
        db = Database(url)
        await db.connect()
        try:
            return await action(db)
        finally:
            await db.disconnect()

    try:
        return asyncio.run(main())
    except DatabaseConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    except DatabaseUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
    except SchemaMissing as exc:
        fail(str(exc), EXIT_CONFIG)


async def require_schema(db: Database) -> None:
    """Raises:
    SchemaMissing: the database was never upgraded.
    """
    from gridsup.store.migrate import current_revision

    if await current_revision(db) is None:
        raise SchemaMissing(
            f"database {db.safe_url} has no gridsup tables: run `gridsup db upgrade` first"
        )


@click.group("db")
def db() -> None:
    """Database schema: migrate it, show its version."""


@db.command("upgrade")
@db_option
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(db_url: str | None, revision: str) -> None:
    """Create or migrate gridsup's tables (Alembic)."""
    from gridsup.store.migrate import upgrade as run_upgrade

    async def action(database: Database) -> Any:
        return await run_upgrade(database, revision)

    at = run_with_db(db_url, action)
    click.echo(f"database is at revision {at}")


@db.command("current")
@db_option
def current(db_url: str | None) -> None:
    """Show the database's schema revision and the newest this gridsup ships."""
    from gridsup.store.migrate import current_revision, head_revision

    at = run_with_db(db_url, current_revision)
    head = head_revision()
    if at == head:
        click.echo(f"{at} (head)")
    else:
        click.echo(f"{at or 'empty'} (head is {head}: run `gridsup db upgrade`)")
