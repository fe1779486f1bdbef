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

from gridsup.commands.output import EXIT_BAD_INPUT, EXIT_FAILURE
from gridsup.commands.output import fail as _fail_command

if TYPE_CHECKING:
    from gridsup.store.database import Database

T = TypeVar("T")

EXIT_UNAVAILABLE = EXIT_FAILURE
EXIT_CONFIG = EXIT_BAD_INPUT

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
    """See :func:`gridsup.commands.output.fail`.

    Raises:
        SystemExit: always, with ``code``.
    """
    _fail_command(message, code)


class DatabaseTargetError(Exception):
    """A database URL a command must not use as it stands (always exit 2)."""


class DatabaseMissing(DatabaseTargetError):
    """A read-only command's SQLite database does not exist (and is not created)."""


def check_target(url: str | None, *, creates: bool, explicit: bool, source: str) -> None:
    """Refuse a database a command would otherwise create by accident.

    A read-only command (``creates`` false) never creates a file: a SQLite database
    that does not exist is refused. A command meant to create the database (``start``,
    ``db upgrade``) creates the file, and its directory only when it is gridsup's own
    data directory (``explicit`` false): a missing directory in a URL someone wrote is
    more likely a typo than a wish. ``source`` names where the URL came from (``--db``).

    Raises:
        DatabaseTargetError: the message names ``source``, the path and what to do.
    """
    from gridsup.store.database import resolve_url, sqlite_path
    from gridsup.store.errors import DatabaseConfigError

    try:
        resolved = resolve_url(url)
    except DatabaseConfigError as exc:
        raise DatabaseTargetError(_at(source, str(exc))) from None
    path = sqlite_path(resolved)
    if path is None:
        return
    if not creates and not path.exists():
        raise DatabaseMissing(
            _at(
                source,
                f"database {path} does not exist (nothing recorded yet): "
                "`gridsup start` or `gridsup db upgrade` creates it",
            )
        )
    if creates and explicit and not path.parent.is_dir():
        raise DatabaseTargetError(
            _at(
                source,
                f"directory {path.parent} of the SQLite database does not exist: "
                "create it, or fix the URL",
            )
        )


def _at(source: str, message: str) -> str:
    return f"{source}: {message}" if source else message


def url_source(url: str | None) -> tuple[str, bool]:
    """Where a command's database URL comes from, and whether someone wrote it."""
    import os

    from gridsup.store.database import ENV_URL

    if url is not None:
        return "--db", True
    if os.environ.get(ENV_URL):
        return ENV_URL, True
    return "", False


def run_with_db(
    url: str | None, action: Callable[[Database], Awaitable[T]], *, creates: bool = False
) -> T:
    """Connect to the database, run ``action``, disconnect; store errors become one line
    on stderr and an exit code, never a traceback. Unless ``creates``, a SQLite database
    that does not exist is refused rather than created (see :func:`check_target`)."""
    from gridsup.logging import configure_logging
    from gridsup.store.database import Database
    from gridsup.store.errors import DatabaseConfigError, DatabaseUnavailable

    configure_logging("WARNING")  # stdout is for the command's output (tables, JSON)
    source, explicit = url_source(url)
    try:
        check_target(url, creates=creates, explicit=explicit, source=source)
    except DatabaseTargetError as exc:
        fail(str(exc), EXIT_CONFIG)

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
        fail(_at(source, str(exc)), EXIT_CONFIG)
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
    """Create or migrate gridsup's tables (Alembic).

    Creates a SQLite database that does not exist yet (and gridsup's data directory
    when the URL is the default one); a directory missing from a URL you gave is
    refused.
    """
    from gridsup.commands.output import short
    from gridsup.store.migrate import current_revision, known_revision
    from gridsup.store.migrate import upgrade as run_upgrade

    if not known_revision(revision):  # before the database file is created
        fail(f"--revision {short(revision)}: no such migration (try head)", EXIT_CONFIG)

    async def action(database: Database) -> tuple[str, Any, Any]:
        before = await current_revision(database)
        return database.safe_url, before, await run_upgrade(database, revision)

    where, before, at = run_with_db(db_url, action, creates=True)
    if before is None:
        click.echo(f"created gridsup's tables in {where}: database is at revision {at}")
    elif before != at:
        click.echo(f"upgraded {where} from revision {before} to {at}")
    else:
        click.echo(f"{where} is already at revision {at}: nothing to do")


@db.command("current")
@db_option
def current(db_url: str | None) -> None:
    """Show the database's schema revision and the newest this gridsup ships."""
    from gridsup.store.migrate import current_revision, head_revision

    source, explicit = url_source(db_url)
    try:
        check_target(db_url, creates=False, explicit=explicit, source=source)
    except DatabaseMissing as exc:
        # A database that does not exist is at no revision; saying so creates nothing.
        click.echo(f"empty ({exc})")
        return
    except DatabaseTargetError as exc:
        fail(str(exc), EXIT_CONFIG)
    at = run_with_db(db_url, current_revision)
    head = head_revision()
    if at == head:
        click.echo(f"{at} (head)")
    else:
        click.echo(f"{at or 'empty'} (head is {head}: run `gridsup db upgrade`)")
