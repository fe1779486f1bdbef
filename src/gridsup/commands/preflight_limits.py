"""The open-files limit (``ulimit -n``) that N grids need, checked before the start.

Every actor is a process with its own descriptors, and the processes at the hub hold
one or more per grid: the supervisor about five per actor (its control connections in
and out, and the process's sentinel and pipes from the forkserver), the execution actor
two per grid (order requests and order updates), the persistence and market-data actors
one. The supervisor is the busiest, so the whole run needs about
``FILES_PER_ACTOR × (grids + 3) + FILES_BASE`` (measured with bench/thousand.py:
supervisor 138 descriptors at 20 grids, 5,040 at 1,000).

The soft limit is raised up to the hard one when that is enough (as many servers do for
themselves: the children inherit it); when even the hard limit is too low the start is
refused (exit 2) with what to raise and how.
"""

from __future__ import annotations

import resource
from collections.abc import Callable

import structlog

from gridsup.app import EXIT_CONFIG, StartRefused

log = structlog.get_logger("gridsup.preflight")

FILES_PER_ACTOR = 5
FILES_BASE = 128  # the database, logs, ZeroMQ's own, the web and metrics servers
INFRA_ACTORS = 3  # persistence, execution, market data

Limits = tuple[int, int]


def files_needed(grids: int) -> int:
    """Open files the busiest process of a run of ``grids`` grids holds, with margin."""
    return FILES_PER_ACTOR * (grids + INFRA_ACTORS) + FILES_BASE


def _unlimited(value: int) -> bool:
    return value == resource.RLIM_INFINITY


def check_file_limit(
    grids: int,
    get: Callable[[], Limits] = lambda: resource.getrlimit(resource.RLIMIT_NOFILE),
    set_: Callable[[Limits], None] = lambda v: resource.setrlimit(resource.RLIMIT_NOFILE, v),
) -> int:
    """Make sure this process (and so every actor it starts) may open the files that
    ``grids`` grids need; the soft limit in force afterwards.

    Raises:
        StartRefused: the hard limit is below the need (exit 2), or the soft limit could
            not be raised; the message names the need and how to raise it.
    """
    need = files_needed(grids)
    soft, hard = get()
    if _unlimited(soft) or soft >= need:
        return soft
    if not _unlimited(hard) and hard < need:
        raise StartRefused(_advice(grids, need, soft, hard), EXIT_CONFIG)
    try:
        set_((need, hard))
    except (OSError, ValueError) as exc:
        raise StartRefused(f"{_advice(grids, need, soft, hard)} ({exc})", EXIT_CONFIG) from None
    log.info("open_files_limit_raised", grids=grids, soft=need, was=soft, hard=hard)
    return need


def _advice(grids: int, need: int, soft: int, hard: int) -> str:
    return (
        f"open files limit (ulimit -n) is {soft} (hard limit {hard}); {grids} grids need at "
        f"least {need}: raise the hard limit, e.g. `ulimit -Hn {need}; ulimit -n {need}` in "
        f"the shell that starts gridsup, LimitNOFILE={need} in its systemd unit, or a nofile "
        "line in /etc/security/limits.conf (docs/actors.md, What N grids need)"
    )
