"""``gridsup pause GRID``, ``gridsup resume GRID``, ``gridsup stop-grid GRID``: act on one
grid of the running supervisor, with the checks the web dashboard's buttons share
(:mod:`gridsup.supervisor.grid_actions`).

Exit codes: 0 done; 1 the pause or resume could not be saved in the database (nothing
changed); 2 no such grid, or the grid's state refuses the action (paused already, not
paused, stopped, ...); 3 no supervisor is running (or it did not answer). A pause is
kept in the database until the grid is resumed: the grid stays paused across restarts.
With ``--json`` the answer is always one JSON object, errors included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import click

from gridsup.commands.output import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_NO_SUPERVISOR,
    EXIT_OK,
    run_base,
    run_dir_option,
)

EXIT_FAILED = EXIT_FAILURE  # the pause or resume could not be saved
EXIT_REFUSED = EXIT_BAD_INPUT  # no such grid, or its state refuses the action

_HELP = {
    "pause": "Pause GRID: it places no new orders and keeps its open ones on the exchange; "
    "it stays paused across restarts until resumed.",
    "resume": "Resume a paused GRID: it reconciles with the exchange, then trades again.",
    "stop": "Stop GRID's actor for this run (its orders stay on the exchange).",
}


def _emit(as_json: bool, code: int, payload: dict[str, object], text: str) -> NoReturn:
    if as_json:
        click.echo(json.dumps(payload))
    else:
        click.echo(text if code == EXIT_OK else f"gridsup: {text}", err=code != EXIT_OK)
    raise SystemExit(code)


def run_action(
    action: str, grid: str, as_json: bool, run_dir: Path | None, timeout: float
) -> NoReturn:
    """Send the action, print the answer, exit with its code (never returns)."""
    from gridsup.messages.control import (
        GridAction,
        GridActionKind,
        GridActionOutcome,
        GridActionReply,
    )
    from gridsup.supervisor.client import NoSupervisor, ask

    base = run_base(run_dir)
    request = GridAction(action=GridActionKind(action), grid=grid, by="cli")
    try:
        reply = ask(base, request, timeout)
    except NoSupervisor as exc:
        _emit(
            as_json,
            EXIT_NO_SUPERVISOR,
            {"action": action, "grid": grid, "outcome": "no_supervisor", "error": str(exc)},
            str(exc),
        )
    if not isinstance(reply, GridActionReply):
        message = f"unexpected reply {type(reply).__name__}"
        _emit(
            as_json, EXIT_NO_SUPERVISOR, {"action": action, "grid": grid, "error": message}, message
        )
    payload: dict[str, object] = {
        "action": action,
        "grid": grid,
        "outcome": reply.outcome.value,
        "detail": reply.detail,
        "state": reply.state,
    }
    code = {GridActionOutcome.DONE: EXIT_OK, GridActionOutcome.FAILED: EXIT_FAILED}.get(
        reply.outcome, EXIT_REFUSED
    )
    if code != EXIT_OK:
        payload["error"] = reply.detail
    text = f"{grid}: {reply.detail}" if code == EXIT_OK else f"{action} {grid}: {reply.detail}"
    _emit(as_json, code, payload, text)


def _command(name: str, action: str) -> click.Command:
    @click.command(name, help=_HELP[action])
    @click.argument("grid")
    @click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
    @run_dir_option
    @click.option("--timeout", type=float, default=5.0, show_default=True)
    def command(grid: str, as_json: bool, run_dir: Path | None, timeout: float) -> None:
        run_action(action, grid, as_json, run_dir, timeout)

    return command


pause = _command("pause", "pause")
resume = _command("resume", "resume")
stop_grid = _command("stop-grid", "stop")
