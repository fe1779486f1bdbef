"""``gridsup start --strategies grids.toml``: check everything, print a banner, run the
supervisor in the foreground until SIGINT/SIGTERM (or ``--duration``).

Exit codes: 0 clean stop, 1 runtime failure (database or exchange unreachable, an
infrastructure actor given up on), 2 bad configuration or a refused start (a grid's
lock is held elsewhere, another supervisor runs in the same run directory).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gridsup.config import LOG_LEVELS

if TYPE_CHECKING:
    from gridsup.actors.run_config import RunConfig
    from gridsup.app import StartOptions
    from gridsup.config import GridsFile
    from gridsup.supervisor.spec import ChildSpec

# How often the foreground loop looks at the children for an infrastructure failure.
_WATCH_INTERVAL = 0.25


def _refuse(message: str, code: int) -> NoReturn:
    click.echo(f"gridsup start: {message}", err=True)
    sys.exit(code)


def _parse_prices(values: tuple[str, ...]) -> dict[str, Decimal]:
    prices: dict[str, Decimal] = {}
    for text in values:
        symbol, sep, price = text.partition("=")
        try:
            value = Decimal(price)
        except InvalidOperation:
            value = Decimal(-1)
        if not sep or "/" not in symbol or not value.is_finite() or value <= 0:
            raise click.BadParameter(f"{text!r}: want SYMBOL=PRICE, e.g. BTC/USDT=64000")
        prices[symbol] = value
    return prices


def banner(grids: GridsFile, run: RunConfig, safe_db_url: str) -> str:
    """The lines printed before the supervisor starts (no password, no key)."""
    mode = (
        "DRY-RUN (paper fills, no real orders)"
        if run.dry_run
        else "LIVE (real orders with real money)"
    )
    source = run.market_source
    if source == "synthetic":
        source += f" (seed {run.seed}, volatility {run.volatility})"
    elif source == "replay":
        source += f" ({run.market_file})"
    lines = [
        "gridsup start",
        f"  exchange : {run.exchange_id}{' (sandbox)' if run.sandbox else ''}",
        f"  mode     : {'*** ' + mode + ' ***' if run.dry_run else mode}",
        f"  market   : {source}",
        f"  database : {safe_db_url}",
        f"  grids    : {len(run.grids)} from {grids.path}",
    ]
    width = max(len(g.name) for g in run.grids)
    for spec in run.grids:
        cfg = grids.grid(spec.name)
        lines.append(
            f"    {spec.name:<{width}}  {spec.symbol:<10} {cfg.lower_price}..{cfg.upper_price}"
            f"  {cfg.num_grids} levels  budget {spec.budget_quote} {cfg.quote}"
        )
    return "\n".join(lines)


async def _supervise(
    specs: list[ChildSpec],
    base: Path,
    duration: float | None,
    log_level: str,
    log_json: bool,
    preload: tuple[str, ...],
) -> int:
    """Run the supervisor; stop it after ``duration`` seconds, or with exit code 1 when
    an infrastructure actor (persistence, execution, market data) is given up on."""
    import structlog

    from gridsup.app import EXIT_OK, EXIT_RUNTIME, INFRA_KINDS
    from gridsup.supervisor.runner import Supervisor
    from gridsup.supervisor.states import ChildState

    log = structlog.get_logger("gridsup.start")
    supervisor = Supervisor(
        specs, base=base, preload=preload, log_level=log_level, log_json=log_json
    )
    outcome = EXIT_OK

    async def watch() -> None:
        nonlocal outcome
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        while True:
            await asyncio.sleep(_WATCH_INTERVAL)
            sup = supervisor.supervision
            if sup is None:
                continue
            failed = [
                c.name
                for c in sup.children.values()
                if c.spec.kind in INFRA_KINDS and c.state is ChildState.FAILED
            ]
            if failed:
                log.error("run_failed", actors=failed)
                outcome = EXIT_RUNTIME
                sup.stop()
                return
            if deadline is not None and loop.time() >= deadline:
                log.info("run_duration_reached", duration=duration)
                sup.stop()
                return

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        code = await supervisor.run()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    return code if code != EXIT_OK else outcome


def _strategy_preload() -> tuple[str, ...]:
    # The forkserver imports these once; every strategy actor forked from it shares the
    # pages (copy on write), which is most of why a hundred of them fit on one machine.
    import importlib.util

    module = "gridsup.actors.grid.actor"
    return (module,) if importlib.util.find_spec(module) is not None else ()


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
    from gridsup.supervisor.discovery import read_pointer

    grids = app.load(grids_file)
    mode = app.run_mode(grids, options)
    preflight.check_credentials(grids, mode)
    if grids.exchange.id == "paper":
        markets = preflight.paper_markets(grids)
    else:
        if options.exchange_url:  # the loopback exchange, speaking this venue's dialect
            from gridsup.exchange.loopback.venues import url_overrides

            options = dataclasses.replace(
                options, url_overrides=url_overrides(grids.exchange.id, options.exchange_url)
            )
        markets = asyncio.run(preflight.exchange_markets(grids, options.url_overrides, mode))
    preflight.check_orders(grids, markets)
    preflight.check_market_source(grids)
    if mode is Mode.DRY_RUN:
        preflight.check_paper_balances(grids)
    db_url, safe_db_url = asyncio.run(
        preflight.prepare_database(options.db_url or grids.database_url)
    )
    pointer = read_pointer(base)
    if pointer is not None:
        raise app.StartRefused(
            f"a supervisor (pid {pointer.pid}) already runs in {base}: "
            "`gridsup stop` it, or give this one another --run-dir"
        )
    asyncio.run(preflight.check_grid_locks(db_url, [g.name for g in app.enabled_grids(grids)]))
    run = app.build_run_config(
        grids, markets, options, run_dir=str(base / f"run-{os.getpid()}"), db_url=db_url
    )
    return grids, run, safe_db_url


@click.command("start")
@click.option(
    "--strategies",
    "-s",
    "grids_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The grids file (grids.toml) to run.",
)
@click.option("--dry-run", is_flag=True, help="Paper fills whatever [exchange] mode says.")
@click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="Database URL (default: $GRIDSUP_DB_URL, [database] url, else SQLite in the data dir).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="Default: $GRIDSUP_LOG_LEVEL or INFO.",
)
@click.option("--log-json", is_flag=True, default=False, help="One JSON object per log line.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop cleanly after this many seconds (demos, tests).",
)
@click.option(
    "--tick-interval-ms",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Market data publish interval (offline: wall time per synthetic/replay step).",
)
@click.option(
    "--poll-interval-ms",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Live: how often the execution actor polls open orders for fills.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="PER_SECOND",
    help="Orders per second for the whole account (default: 10 live, 1000 dry-run).",
)
@click.option(
    "--price",
    "prices",
    multiple=True,
    metavar="SYMBOL=PRICE",
    help="Synthetic market: start the walk of SYMBOL at PRICE (default: mid-range).",
)
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="GRIDSUP_RUN_DIR",
    help="Base run directory for sockets (default: $XDG_RUNTIME_DIR/gridsup or /tmp/gridsup-UID).",
)
@click.option(
    "--exchange-url",
    default=None,
    hidden=True,
    help="Point ccxt's class of the grids file's exchange at this base URL (the loopback "
    "exchange, for tests).",
)
def start(
    grids_file: Path,
    dry_run: bool,
    db_url: str | None,
    log_level: str | None,
    log_json: bool,
    duration: float | None,
    tick_interval_ms: int,
    poll_interval_ms: int,
    rate_limit: float | None,
    prices: tuple[str, ...],
    run_dir: Path | None,
    exchange_url: str | None,
) -> None:
    """Run every grid of the grids file in the foreground, one process each, supervised.

    SIGINT/SIGTERM stop it cleanly (orders stay on the exchange). Exit codes: 0 clean
    stop, 1 runtime failure (database or exchange unreachable, an infrastructure actor
    given up on), 2 bad configuration or refused start (a grid running elsewhere).
    """
    import zmq

    from gridsup import app
    from gridsup.logging import configure_logging
    from gridsup.runtime.endpoints import EndpointError, default_base
    from gridsup.supervisor.discovery import SupervisorRunning

    options = app.StartOptions(
        dry_run=dry_run,
        db_url=db_url,
        tick_interval_ms=tick_interval_ms,
        poll_interval_ms=poll_interval_ms,
        exchange_url=exchange_url,
        start_prices=_parse_prices(prices),
        rate_limit_per_s=rate_limit,
    )
    base = run_dir if run_dir is not None else default_base()
    # Quiet while checking: the refusals are printed as one clear line each.
    configure_logging("WARNING", json=log_json)
    try:
        grids, run, safe_db_url = prepare(grids_file, options, base)
    except app.StartRefused as exc:
        _refuse(str(exc), exc.code)
    level = (log_level or grids.log_level).upper()
    json_logs = log_json or grids.log_json
    click.echo(banner(grids, run, safe_db_url))
    sys.stdout.flush()
    configure_logging(level, json=json_logs)
    specs = app.child_specs(run)
    try:
        code = asyncio.run(_supervise(specs, base, duration, level, json_logs, _strategy_preload()))
    except SupervisorRunning as exc:
        _refuse(str(exc), app.EXIT_CONFIG)
    except EndpointError as exc:
        _refuse(f"run directory: {exc}", app.EXIT_CONFIG)
    except (OSError, zmq.ZMQError) as exc:  # a socket that cannot be bound, a full disk
        _refuse(f"supervisor failed: {exc}", app.EXIT_RUNTIME)
    sys.exit(code)
