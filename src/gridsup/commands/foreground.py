"""What ``gridsup start`` runs once its checks have passed: the supervisor in the
foreground, with its extensions (metrics, alerts, grid pauses, the audit log, the web
dashboard), until a signal, ``--duration`` or an infrastructure actor given up on.

A bad metrics address, alert URL or web address ends the command (exit 2) before
anything starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gridsup.commands.output import fail

if TYPE_CHECKING:
    from gridsup.actors.run_config import RunConfig
    from gridsup.config import GridsFile
    from gridsup.supervisor.extensions import SupervisorExtension
    from gridsup.supervisor.runner import Service
    from gridsup.supervisor.spec import ChildSpec

# How often the foreground loop looks at the children for an infrastructure failure.
WATCH_INTERVAL = 0.25


async def supervise(
    specs: list[ChildSpec],
    base: Path,
    duration: float | None,
    log_level: str,
    log_json: bool,
    preload: tuple[str, ...],
    extensions: Sequence[SupervisorExtension] = (),
    services: Sequence[Service] = (),
    planned: Sequence[ChildSpec] = (),
) -> int:
    """Run the supervisor; stop it after ``duration`` seconds, or with exit code 1 when
    an infrastructure actor (persistence, execution, market data) is given up on.
    ``planned``: children a service may add later (``Supervisor``'s)."""
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
        planned=planned,
    )
    outcome = EXIT_OK

    async def watch() -> None:
        nonlocal outcome
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
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


def monitoring(
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
            disk_path=disk_path(grids),
        )
    except MetricsAddressError as exc:
        fail(f"metrics: {exc}", EXIT_CONFIG)
    except AlertConfigError as exc:
        fail(f"alerts: {exc}", EXIT_CONFIG)


def disk_path(grids: GridsFile) -> Path:
    """Where free disk matters: the SQLite database's directory, else the data dir."""
    url = grids.database_url
    if url.startswith("sqlite") and ":///" in url:
        path = Path(url.split(":///", 1)[1]).parent
        while not path.exists() and path != path.parent:
            path = path.parent
        return path
    return grids.data_dir or Path.cwd()


def run_extensions(
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
            fail(str(exc), EXIT_CONFIG)
        out.append(WebServer(settings, db_url))
    return out


def strategy_preload() -> tuple[str, ...]:
    """What a forkserver imports for the strategy actors.

    The forkserver imports these once; every strategy actor forked from it shares the
    pages (copy on write), which is most of why a hundred of them fit on one machine.
    """
    import importlib.util

    module = "gridsup.actors.grid.actor"
    return (module,) if importlib.util.find_spec(module) is not None else ()
