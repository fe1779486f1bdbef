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
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gridsup.commands.output import PositiveFloat, Seconds, fail, short, strategies_option
from gridsup.config import LOG_LEVELS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gridsup.actors.run_config import RunConfig
    from gridsup.app import StartOptions
    from gridsup.config import GridsFile
    from gridsup.supervisor.extensions import SupervisorExtension
    from gridsup.supervisor.runner import Service
    from gridsup.supervisor.spec import ChildSpec

# How often the foreground loop looks at the children for an infrastructure failure.
_WATCH_INTERVAL = 0.25


def _refuse(message: str, code: int) -> NoReturn:
    fail(message, code)


def _member_name(name: str | None) -> str:
    """The cluster member's name: given, or the host name; letters, digits, ``.-_``."""
    import re
    import socket

    chosen = name if name is not None else socket.gethostname()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", chosen):
        raise click.BadParameter(
            f"{chosen[:80]!r}: 1 to 64 letters, digits, '.', '-' or '_'", param_hint="--member"
        )
    return chosen


def _parse_prices(values: tuple[str, ...]) -> dict[str, Decimal]:
    from gridsup.strategy.base import SYMBOL_PATTERN
    from gridsup.strategy.grid_config import MAX_DIGITS, MAX_PRICE, MIN_PRICE

    prices: dict[str, Decimal] = {}
    for text in values:
        symbol, sep, price = text.partition("=")
        try:
            value = Decimal(price)
        except InvalidOperation:
            value = Decimal(-1)
        if (
            not sep
            or not SYMBOL_PATTERN.fullmatch(symbol)
            or not value.is_finite()
            or not MIN_PRICE <= value <= MAX_PRICE
            or len(value.as_tuple().digits) > MAX_DIGITS
        ):
            raise click.BadParameter(
                f"{short(text)}: want SYMBOL=PRICE with a price between {MIN_PRICE} and "
                f"{MAX_PRICE}, e.g. BTC/USDT=64000",
                param_hint="--price",
            )
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
    extensions: Sequence[SupervisorExtension] = (),
    services: Sequence[Service] = (),
) -> int:
    """Run the supervisor; stop it after ``duration`` seconds, or with exit code 1 when
    an infrastructure actor (persistence, execution, market data) is given up on."""
    import structlog

    from gridsup.app import EXIT_OK, EXIT_RUNTIME, INFRA_KINDS
    from gridsup.supervisor.runner import Supervisor
    from gridsup.supervisor.states import ChildState

    log = structlog.get_logger("gridsup.start")
    supervisor = Supervisor(
        specs,
        base=base,
        preload=preload,
        log_level=log_level,
        log_json=log_json,
        extensions=extensions,
        services=services,
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


def _monitoring(
    grids: GridsFile, run: RunConfig, metrics_addr: str | None
) -> list[SupervisorExtension]:
    """The metrics endpoint and the alerts of this run (exit 2 on a bad address or
    alert URL, before anything starts)."""
    from gridsup.app import EXIT_CONFIG
    from gridsup.monitoring import MetricsAddressError, metrics_address
    from gridsup.supervisor.alert_sender import AlertConfigError
    from gridsup.supervisor.monitoring import monitoring_extensions

    try:
        address = metrics_address(metrics_addr, grids.metrics.address)
        return monitoring_extensions(
            exchange=run.exchange_id,
            alerts=grids.alerts,
            metrics=address,
            mismatch_threshold=run.mismatch_threshold,
            disk_path=_disk_path(grids),
        )
    except MetricsAddressError as exc:
        _refuse(f"metrics: {exc}", EXIT_CONFIG)
    except AlertConfigError as exc:
        _refuse(f"alerts: {exc}", EXIT_CONFIG)


def _disk_path(grids: GridsFile) -> Path:
    """Where free disk matters: the SQLite database's directory, else the data dir."""
    url = grids.database_url
    if url.startswith("sqlite") and ":///" in url:
        path = Path(url.split(":///", 1)[1]).parent
        while not path.exists() and path != path.parent:
            path = path.parent
        return path
    return grids.data_dir or Path.cwd()


def _extensions(
    grids: GridsFile, web_listen: str | None, run: RunConfig
) -> list[SupervisorExtension]:
    """The grid pauses kept in the database and the audit log of grid actions, always;
    the web dashboard when asked for. A bad address, or one beyond loopback without a
    token, is refused (exit 2)."""
    from gridsup.app import EXIT_CONFIG
    from gridsup.supervisor.audit import AuditLog
    from gridsup.supervisor.pauses import GridPauses

    db_url = run.db_url
    out: list[SupervisorExtension] = [
        GridPauses(db_url, {g.name: g.grid_id for g in run.grids}),
        AuditLog(db_url),
    ]
    listen = web_listen or grids.web.listen
    if listen:
        from gridsup.web import WebConfigError, web_settings
        from gridsup.web.server import WebServer

        try:
            settings = web_settings(listen, grids.web.token_env)
        except WebConfigError as exc:
            _refuse(str(exc), EXIT_CONFIG)
        out.append(WebServer(settings, db_url))
    return out


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
            from gridsup.exchange.loopback.venues import url_overrides

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


@click.command("start")
@strategies_option(help_text="The grids file (grids.toml) to run.")
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
    type=Seconds(365 * 86_400.0),
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
    default=None,
    help="Live: how often the execution actor polls open orders for fills when it "
    "polls (the stream's fallback) [default: [streams] fallback_poll_ms, else 1000].",
)
@click.option(
    "--rate-limit",
    type=PositiveFloat(1_000_000, "orders per second"),
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
    "--metrics",
    "metrics_addr",
    default=None,
    metavar="ADDR",
    help="Serve Prometheus metrics on ADDR (PORT or HOST:PORT; loopback only here, "
    "other interfaces through [metrics] address in the grids file). Default: off, "
    "or [metrics] address.",
)
@click.option(
    "--cluster",
    is_flag=True,
    default=False,
    help="Run as one member of a cluster sharing this grids file and PostgreSQL database.",
)
@click.option(
    "--member",
    default=None,
    envvar="GRIDSUP_MEMBER",
    metavar="NAME",
    help="This member's name in the cluster (default: $GRIDSUP_MEMBER or the host name).",
)
@click.option(
    "--exchange-url",
    default=None,
    hidden=True,
    help="Point ccxt's class of the grids file's exchange at this base URL (the loopback "
    "exchange, for tests).",
)
@click.option(
    "--web",
    "web_listen",
    default=None,
    metavar="HOST:PORT",
    help="Serve the web dashboard here (default: [web] listen, else off). A non-loopback "
    "address needs the token in $GRIDSUP_WEB_TOKEN (docs/web.md).",
)
def start(
    grids_file: Path,
    dry_run: bool,
    db_url: str | None,
    log_level: str | None,
    log_json: bool,
    duration: float | None,
    tick_interval_ms: int,
    poll_interval_ms: int | None,
    rate_limit: float | None,
    prices: tuple[str, ...],
    run_dir: Path | None,
    metrics_addr: str | None,
    cluster: bool,
    member: str | None,
    exchange_url: str | None,
    web_listen: str | None,
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
        member=_member_name(member) if cluster else None,
    )
    base = run_dir if run_dir is not None else default_base()
    # Quiet while checking: the refusals are printed as one clear line each.
    configure_logging("WARNING", json=log_json)
    try:
        grids, run, safe_db_url = prepare(grids_file, options, base)
    except app.StartRefused as exc:
        _refuse(str(exc), exc.code)
    extensions = _monitoring(grids, run, metrics_addr)
    level = (log_level or grids.log_level).upper()
    json_logs = log_json or grids.log_json
    click.echo(banner(grids, run, safe_db_url))
    sys.stdout.flush()
    configure_logging(level, json=json_logs)
    specs = app.child_specs(run, strategies=run.member is None)
    extensions += _extensions(grids, web_listen, run)
    services: list[Service] = []
    if run.member is not None:
        from gridsup.supervisor.cluster import ClusterMember

        member_loop = ClusterMember(
            run.db_url,
            run.member,
            app.cluster_strategy_specs(run),
            {g.name: g.grid_id for g in run.grids},
        )
        services.append(member_loop.run)
    try:
        code = asyncio.run(
            _supervise(
                specs, base, duration, level, json_logs, _strategy_preload(), extensions, services
            )
        )
    except SupervisorRunning as exc:
        _refuse(str(exc), app.EXIT_CONFIG)
    except EndpointError as exc:
        _refuse(f"run directory: {exc}", app.EXIT_CONFIG)
    except (OSError, zmq.ZMQError) as exc:  # a socket that cannot be bound, a full disk
        _refuse(f"supervisor failed: {exc}", app.EXIT_RUNTIME)
    sys.exit(code)
