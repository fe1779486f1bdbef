"""``gridsup status`` and ``gridsup stop``: talk to the running supervisor.

Exit codes: 0 success, 3 no supervisor is running (or it did not answer), 1 the stop
was accepted but the supervisor did not exit within ``--timeout``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import click
import msgspec

from gridsup.commands.db import db_option
from gridsup.commands.output import (
    EXIT_FAILURE,
    EXIT_NO_SUPERVISOR,
    Seconds,
    echo_json,
    fail,
    run_base,
    run_dir_option,
)

if TYPE_CHECKING:
    from gridsup.messages.control import StatusReply, StatusValue

# The market-data actor's status key prefix for the age of a symbol's last tick.
MARKET_AGE_PREFIX = "age:"

_timeout_option = click.option(
    "--timeout",
    type=Seconds(),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the supervisor.",
)


def _fmt_age(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the supervisor's reply as JSON.")
@click.option(
    "--cluster",
    is_flag=True,
    help="Show the cluster from its PostgreSQL database instead: members, their grids, "
    "leases (needs no running supervisor).",
)
@db_option
@run_dir_option
@_timeout_option
def status(
    as_json: bool, cluster: bool, db_url: str | None, run_dir: Path | None, timeout: float
) -> None:
    """Show every actor of the running supervisor (state, pid, uptime, restarts) and
    every grid (symbol, state, pid, uptime, restarts, last tick age, whether it listens
    to ticks, open orders, completed cycles, realized profit). With --cluster: every
    member of the cluster, its grids and their leases, read from the database (--db)."""
    if cluster:
        from gridsup.commands.cluster import show_status

        show_status(db_url, as_json)
        return
    if db_url is not None:
        fail("--db goes with --cluster (the supervisor is asked over its socket)")
    from gridsup.messages.control import StatusQuery, StatusReply
    from gridsup.supervisor.client import NoSupervisor, ask

    try:
        reply = ask(run_base(run_dir), StatusQuery(), timeout)
    except NoSupervisor as exc:
        fail(str(exc), EXIT_NO_SUPERVISOR)
    if not isinstance(reply, StatusReply):
        fail(f"unexpected reply {type(reply).__name__}", EXIT_NO_SUPERVISOR)
    if as_json:
        out = msgspec.to_builtins(reply)
        out["grids"] = grid_rows(reply)  # additive: the per-grid view of the actors
        out["feeds"] = feed_rows(reply)
        echo_json(out)
        return
    click.echo(f"supervisor pid {reply.supervisor_pid}  {reply.state}  up {reply.uptime:.0f}s")
    click.echo(
        f"{'NAME':<20} {'KIND':<12} {'STATE':<9} {'PID':>7} {'UPTIME':>8} "
        f"{'RESTARTS':>8} {'HEARTBEAT':>9}"
    )
    for a in reply.actors:
        pid = "-" if a.pid is None else str(a.pid)
        click.echo(
            f"{a.name:<20} {a.kind:<12} {a.state:<9} {pid:>7} {_fmt_age(a.uptime):>8} "
            f"{a.restarts:>8} {_fmt_age(a.last_heartbeat_age):>9}"
        )
        if a.status.get("account_paused"):  # keys refused: every grid of it waits
            click.echo(f"  account paused: {a.status['account_paused']}")
    for row in feed_rows(reply):
        click.echo(feed_line(row))
    _echo_grids(grid_rows(reply))


def feed_line(row: dict[str, object]) -> str:
    """One row of :func:`feed_rows` as ``gridsup status`` prints it:
    ``execution: fills by stream since 2026-12-05 19:46:40``."""
    how = "paused" if row["feed"] == "paused" else f"by {row['feed']}"
    return f"{row['actor']}: {row['what']} {how} since {row['since']}"


def feed_rows(reply: StatusReply) -> list[dict[str, object]]:
    """Per account (execution actor) where its fills come from — ``stream``,
    ``polling`` (the stream's fallback), ``connecting``, ``paused`` (keys refused: the
    account is probed, the stream not reconnected), ``paper`` — and, per market-data
    actor on an exchange, where its prices come from; each with since when (UTC)."""
    rows: list[dict[str, object]] = []
    for a in reply.actors:
        for key, what in (("order_feed", "fills"), ("market_feed", "prices")):
            feed = a.status.get(key)
            if feed is None:
                continue
            since = a.status.get(f"{key}_since")
            when = (
                datetime.fromtimestamp(since / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
                if isinstance(since, int) and since > 0
                else "-"
            )
            rows.append({"actor": a.name, "what": what, "feed": feed, "since": when})
    return rows


# -- per-grid view (strategy actors' own status fields) --------------------------------------


def market_ages(reply: StatusReply) -> dict[str, StatusValue]:
    """Symbol -> seconds since its last tick, as the market-data actor reports them."""
    ages: dict[str, StatusValue] = {}
    for a in reply.actors:
        if a.kind == "market_data":
            for key, value in a.status.items():
                if key.startswith(MARKET_AGE_PREFIX):
                    ages[key.removeprefix(MARKET_AGE_PREFIX)] = value
    return ages


def grid_rows(reply: StatusReply) -> list[dict[str, object]]:
    """One row per grid: the strategy actor's process facts and its own status fields.

    A grid that does not listen to ticks (``ticks`` off: running without stops) has no
    tick age of its own; its row shows the market-data actor's age of its symbol, which
    is what an operator asks the column: are prices still coming?
    """
    ages = market_ages(reply)
    rows: list[dict[str, object]] = []
    for a in reply.actors:
        if a.kind != "strategy":
            continue
        s = a.status
        grid_state = s.get("state") if a.state == "running" else None
        if s.get("stopped"):
            grid_state = "stopped"
        age = s.get("last_tick_age_s")
        if s.get("ticks") == "off":
            age = ages.get(str(s.get("symbol")))
        rows.append(
            {
                "grid": s.get("grid") or a.name.removeprefix("grid-"),
                "symbol": s.get("symbol"),
                "state": grid_state or a.state,
                "mode": s.get("mode"),
                "pid": a.pid,
                "uptime": a.uptime,
                "restarts": a.restarts,
                "last_tick_age_s": age,
                "ticks": s.get("ticks"),
                "open_orders": s.get("open_orders"),
                "completed_cycles": s.get("completed_cycles"),
                "realized_profit": s.get("realized_profit"),
                # Orders refused for a passing reason, retried (the slot is kept).
                "orders_waiting": s.get("orders_waiting"),
                "waiting_reason": s.get("waiting_reason"),
            }
        )
    return rows


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _profit(value: object) -> str:
    # Exact Decimal text from the actor; four places are plenty for a table.
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.0001")))
    except (InvalidOperation, ValueError):
        return _cell(value)


def _echo_grids(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    width = max(4, *(len(str(r["grid"])) for r in rows))
    click.echo("")
    click.echo(
        f"{'GRID':<{width}} {'SYMBOL':<10} {'STATE':<9} {'PID':>7} {'UPTIME':>8} "
        f"{'RESTARTS':>8} {'TICK AGE':>8} {'TICKS':>5} {'OPEN':>5} {'CYCLES':>6} {'PROFIT':>14}"
    )
    for r in rows:
        age = r["last_tick_age_s"]
        uptime = r["uptime"]
        click.echo(
            f"{_cell(r['grid']):<{width}} {_cell(r['symbol']):<10} {_cell(r['state']):<9} "
            f"{_cell(r['pid']):>7} "
            f"{_fmt_age(uptime if isinstance(uptime, float | int) else None):>8} "
            f"{_cell(r['restarts']):>8} "
            f"{_fmt_age(age if isinstance(age, float | int) else None):>8} "
            f"{_cell(r['ticks']):>5} {_cell(r['open_orders']):>5} "
            f"{_cell(r['completed_cycles']):>6} "
            f"{_profit(r['realized_profit']):>14}"
        )
        if r.get("orders_waiting"):
            click.echo(f"  waiting: {r['orders_waiting']} order(s): {r['waiting_reason']}")


@click.command("stop")
@click.option(
    "--cancel-orders",
    is_flag=True,
    help="Ask trading actors to cancel their open orders before exiting.",
)
@click.option("--no-wait", is_flag=True, help="Return once the stop is accepted.")
@run_dir_option
@click.option(
    "--timeout",
    type=Seconds(),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the supervisor to exit.",
)
def stop(cancel_orders: bool, no_wait: bool, run_dir: Path | None, timeout: float) -> None:
    """Stop the running supervisor gracefully (actors in reverse start order)."""
    from gridsup.messages.control import StopAccepted, StopRequest
    from gridsup.supervisor.client import NoSupervisor, ask
    from gridsup.supervisor.discovery import read_pointer

    try:
        reply = ask(run_base(run_dir), StopRequest(cancel_orders=cancel_orders), min(timeout, 5.0))
    except NoSupervisor as exc:
        fail(str(exc), EXIT_NO_SUPERVISOR)
    if not isinstance(reply, StopAccepted):
        fail(f"unexpected reply {type(reply).__name__}", EXIT_NO_SUPERVISOR)
    click.echo(
        f"stopping supervisor pid {reply.supervisor_pid}"
        + (" (cancelling orders)" if cancel_orders else "")
    )
    if no_wait:
        return
    deadline = time.monotonic() + timeout
    base = run_base(run_dir)
    # The supervisor removes its pointer as the last step of a clean exit.
    while (pointer := read_pointer(base)) is not None and pointer.pid == reply.supervisor_pid:
        if time.monotonic() > deadline:
            fail(
                f"supervisor pid {reply.supervisor_pid} still running after {timeout:g}s",
                EXIT_FAILURE,
            )
        time.sleep(0.1)
    click.echo("stopped")
