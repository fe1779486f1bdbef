"""The checks of ``gridsup start``, in order, before anything runs (see
:mod:`gridsup.commands.preflight` for each): what they find refused raises
:class:`~gridsup.app.StartRefused` with its exit code."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridsup.actors.run_config import RunConfig
    from gridsup.app import StartOptions
    from gridsup.config import GridsFile


def prepare(
    grids_file: Path, options: StartOptions, base: Path
) -> tuple[GridsFile, RunConfig, str]:
    """Every preflight check, in order; returns the grids, the run and the safe DB URL.

    Raises:
        StartRefused: see :mod:`gridsup.app` (exit codes 1 and 2) and
            :mod:`gridsup.commands.preflight`.
    """
    from gridsup import app
    from gridsup.actors.run_config import Mode
    from gridsup.commands import preflight
    from gridsup.commands.preflight_limits import check_file_limit
    from gridsup.supervisor.discovery import read_pointer

    grids = app.load(grids_file)
    mode = app.run_mode(grids, options)
    check_file_limit(len(app.enabled_grids(grids)))
    preflight.check_credentials(grids, mode)
    if grids.exchange.id == "paper":
        markets = preflight.paper_markets(grids)
    else:
        if options.exchange_url:  # the loopback exchange, speaking this venue's dialect
            from gridsup.exchange.loopback.urls import url_overrides

            options = dataclasses.replace(
                options, url_overrides=url_overrides(grids.exchange.id, options.exchange_url)
            )
        markets = asyncio.run(preflight.exchange_markets(grids, options.url_overrides, mode))
    preflight.check_orders(grids, markets)
    preflight.check_market_source(grids)
    if mode is Mode.DRY_RUN:
        preflight.check_paper_balances(grids)
    if options.db_url:
        source = "--db"
    elif grids.database.url:
        source = f"{grids.path}: database: url (or GRIDSUP_DB_URL)"
    else:
        source = ""  # gridsup's default SQLite in the data directory
    db_url, safe_db_url = asyncio.run(
        preflight.prepare_database(
            options.db_url or grids.database_url,
            source,
            explicit=bool(options.db_url or grids.database.url),
        )
    )
    pointer = read_pointer(base)
    if pointer is not None:
        raise app.StartRefused(
            f"a supervisor (pid {pointer.pid}) already runs in {base}: "
            "`gridsup stop` it, or give this one another --run-dir"
        )
    if options.member is None:
        asyncio.run(preflight.check_grid_locks(db_url, [g.name for g in app.enabled_grids(grids)]))
    elif not db_url.startswith(("postgresql", "postgres")):
        # Members on several hosts share grids through PostgreSQL's session locks and
        # lease rows: a SQLite file cannot be that meeting point.
        raise app.StartRefused(
            f"--cluster needs a PostgreSQL database (got {safe_db_url}): the members "
            "share grids through its locks and lease rows"
        )
    elif mode is Mode.DRY_RUN:
        # A paper account lives in one member's run: a grid adopted by another member
        # would find another account, and each member would overwrite the others' paper
        # balances in the shared database.
        raise app.StartRefused(
            "--cluster trades live only: a dry run's paper account belongs to one "
            "member, so a grid moved to another would lose its orders and balances"
        )
    if mode is Mode.LIVE:  # keys, trade permission and free balances, before any order
        from gridsup.commands.preflight_account import check_live_account

        asyncio.run(check_live_account(grids, db_url, options.url_overrides))
    run = app.build_run_config(
        grids, markets, options, run_dir=str(base / f"run-{os.getpid()}"), db_url=db_url
    )
    return grids, run, safe_db_url
