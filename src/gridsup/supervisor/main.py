"""A supervisor's process entry point (what ``gridsup start`` calls after building specs)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from gridsup.logging import configure_logging
from gridsup.supervisor.effects import AlertHook, log_alert
from gridsup.supervisor.runner import Supervisor
from gridsup.supervisor.spec import ChildSpec


def run_supervisor(
    specs: list[ChildSpec],
    *,
    base: Path | None = None,
    start_method: str = "forkserver",
    preload: Sequence[str] = (),
    alert: AlertHook = log_alert,
    log_level: str = "INFO",
    log_json: bool = False,
) -> int:
    """Configure logging, run a :class:`Supervisor` to completion, return its exit code.

    Raises:
        SupervisorRunning, EndpointError, zmq.ZMQError: see :meth:`Supervisor.run`.
    """
    configure_logging(log_level, json=log_json)
    supervisor = Supervisor(
        specs,
        base=base,
        start_method=start_method,
        preload=preload,
        alert=alert,
        log_level=log_level,
        log_json=log_json,
    )
    return asyncio.run(supervisor.run())
