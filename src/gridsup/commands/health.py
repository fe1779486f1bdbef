"""``gridsup health``: one exit code for probes (Docker HEALTHCHECK, systemd, Kubernetes).

Exit codes (this command's own, for probes):

* 0 healthy: the supervisor answers, runs, and every actor and grid runs;
* 1 degraded: it answers, but something is not right: a grid stopped, aborted or
  still waiting (starting, reconciling), an actor restarting or given up on, a stream
  down, the supervisor still starting or stopping;
* 2 down: no supervisor answers (none runs, or it is wedged).

``--json`` prints one object whatever happens: ``status`` (healthy/degraded/down),
``code``, ``problems`` (one line each) and the supervisor's pid and uptime when it
answered. Read-only: it creates no file and changes nothing.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gridsup.commands.control import grid_rows
from gridsup.commands.output import run_base, run_dir_option

if TYPE_CHECKING:
    from gridsup.messages.control import StatusReply

# Status key of an actor's stream (see gridsup.messages.telemetry.STREAM_CONNECTED).
_STREAM_CONNECTED = "stream_connected"


class Health(enum.Enum):
    HEALTHY = 0
    DEGRADED = 1
    DOWN = 2


def judge(reply: StatusReply) -> list[str]:
    """What is not right in ``reply`` (empty: healthy)."""
    problems: list[str] = []
    if reply.state != "running":
        problems.append(f"supervisor is {reply.state}")
    for a in reply.actors:
        if a.kind != "strategy" and a.state != "running":
            problems.append(f"actor {a.name} is {a.state} (restarts {a.restarts})")
        if a.status.get(_STREAM_CONNECTED) is False:
            problems.append(f"actor {a.name}: stream down")
    for row in grid_rows(reply):
        if row["state"] != "trading":
            problems.append(f"grid {row['grid']} is {row['state']}")
    return problems


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, errors included.")
@run_dir_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the supervisor's answer.",
)
def health(as_json: bool, run_dir: Path | None, timeout: float) -> None:
    """Exit 0 healthy, 1 degraded (a grid stopped or waiting, an actor not running, a
    stream down), 2 down (no supervisor answers). For container and service probes."""
    from gridsup.messages.control import StatusQuery, StatusReply
    from gridsup.supervisor.client import NoSupervisor, ask

    out: dict[str, object] = {}
    try:
        reply = ask(run_base(run_dir), StatusQuery(), timeout)
        if not isinstance(reply, StatusReply):
            raise NoSupervisor(f"unexpected reply {type(reply).__name__}")
    except NoSupervisor as exc:
        verdict, problems = Health.DOWN, [str(exc)]
    else:
        problems = judge(reply)
        verdict = Health.DEGRADED if problems else Health.HEALTHY
        out = {"supervisor_pid": reply.supervisor_pid, "uptime": reply.uptime}
    if as_json:
        body = {"status": verdict.name.lower(), "code": verdict.value, "problems": problems}
        click.echo(json.dumps({**body, **out}, indent=2))
    else:
        click.echo(verdict.name.lower())
        for line in problems:
            click.echo(f"  {line}", err=verdict is Health.DOWN)
    raise SystemExit(verdict.value)
