"""``gridsup start --strategies grids.toml``: check everything, print a banner, run the
supervisor in the foreground until SIGINT/SIGTERM (or ``--duration``).

The command and its options are here; the checks are :func:`gridsup.commands.prepare.prepare`,
the run is :mod:`gridsup.commands.foreground`.

Exit codes: 0 clean stop, 1 runtime failure (database or exchange unreachable, an
infrastructure actor given up on), 2 bad configuration or a refused start (a grid's
lock is held elsewhere, another supervisor runs in the same run directory).
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gridsup.commands.foreground import monitoring, run_extensions, strategy_preload, supervise
from gridsup.commands.output import (
    PositiveFloat,
    Seconds,
    fail,
    grid_price,
    key_number,
    run_base,
    short,
    strategies_option,
)
from gridsup.commands.prepare import prepare
from gridsup.config import LOG_LEVELS

if TYPE_CHECKING:
    from gridsup.actors.run_config import RunConfig
    from gridsup.config import GridsFile
    from gridsup.supervisor.runner import Service
    from gridsup.supervisor.spec import ChildSpec


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
    from gridsup.strategy.grid.config import MAX_PRICE, MIN_PRICE

    prices: dict[str, Decimal] = {}
    for text in values:
        symbol, sep, value = key_number(text)
        if not sep or not SYMBOL_PATTERN.fullmatch(symbol) or not grid_price(value):
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
    from gridsup.runtime.endpoints import EndpointError
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
    base = run_base(run_dir)
    # Quiet while checking: the refusals are printed as one clear line each.
    configure_logging("WARNING", json=log_json)
    try:
        grids, run, safe_db_url = prepare(grids_file, options, base)
    except app.StartRefused as exc:
        _refuse(str(exc), exc.code)
    extensions = monitoring(grids, run, metrics_addr)
    level = (log_level or grids.log_level).upper()
    json_logs = log_json or grids.log_json
    click.echo(banner(grids, run, safe_db_url))
    sys.stdout.flush()
    configure_logging(level, json=json_logs)
    specs = app.child_specs(run, strategies=run.member is None)
    extensions += run_extensions(grids, web_listen, run)
    services: list[Service] = []
    planned: list[ChildSpec] = []
    if run.member is not None:
        from gridsup.supervisor.cluster import ClusterMember

        # The grids the member may be given: the supervisor beats for their interval
        # from the start (above 200 grids it is not the infrastructure actors').
        cluster_specs = app.cluster_strategy_specs(run)
        planned = list(cluster_specs.values())
        member_loop = ClusterMember(
            run.db_url, run.member, cluster_specs, {g.name: g.grid_id for g in run.grids}
        )
        services.append(member_loop.run)
    try:
        code = asyncio.run(
            supervise(
                specs,
                base,
                duration,
                level,
                json_logs,
                strategy_preload(),
                extensions,
                services,
                planned,
            )
        )
    except SupervisorRunning as exc:
        _refuse(str(exc), app.EXIT_CONFIG)
    except EndpointError as exc:
        _refuse(f"run directory: {exc}", app.EXIT_CONFIG)
    except (OSError, zmq.ZMQError) as exc:  # a socket that cannot be bound, a full disk
        _refuse(f"supervisor failed: {exc}", app.EXIT_RUNTIME)
    sys.exit(code)
