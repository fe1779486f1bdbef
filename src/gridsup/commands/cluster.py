"""``gridsup status --cluster`` and ``gridsup move GRID MEMBER``: a cluster of supervisors
(``gridsup start --cluster``) read and steered through its PostgreSQL database, so both
work from any host and with no supervisor running there.

``status --cluster`` shows every member (host, pid, heartbeat age, live / leaving /
silent), the grids each holds, and every grid's lease (owner, fencing epoch, how long
this incarnation has held it, when its owner last renewed it) and pin. Ages are read on
the database's clock, the one the members' liveness is judged by.

``move`` writes a pin (``grid_pins``): within a second every member computes the same
placement with the grid on the pinned member (:mod:`gridsup.supervisor.placement`), the
current owner stops its copy without cancelling its orders, and the new owner takes the
grid's lock, claims a new epoch, reconciles with the exchange and trades on. The pin
holds while that member is live; when it is not, hashing places the grid, and it comes
back when the member does. ``move GRID --unpin`` hands the grid back to hashing. Every
move, refused ones included, is one ``audit_log`` row, like the dashboard's actions.

Exit codes: 0 done; 1 the database is unreachable, or ``--wait`` ran out before the new
owner took the grid; 2 bad input: not a PostgreSQL database, no such grid or member, or
a member that is not live.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import click
import msgspec

from gridsup.commands.db import db_option, require_schema, run_with_db
from gridsup.commands.output import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    Seconds,
    echo_json,
    fail,
    short,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from gridsup.store.cluster import Member
    from gridsup.store.database import Database
    from gridsup.store.leases import Lease

# audit_log.actor of a command-line action (the dashboard writes its token's id).
AUDIT_ACTOR = "cli"
# How often `move --wait` reads the lease.
_WAIT_POLL_S = 0.5


class ClusterView(msgspec.Struct, frozen=True, kw_only=True):
    """The cluster as its database holds it, at ``now`` (the database's clock)."""

    now: dt.datetime
    ttl_s: float
    members: list[Member]
    leases: list[Lease]
    pins: dict[str, str]


class MoveRefused(Exception):
    """A move that cannot be done as asked (exit 2); the message says why."""

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome  # the audit row's outcome


def require_postgres(db_url: str | None) -> None:
    """Refuse a database that cannot hold a cluster (exit 2); a bad URL is left to
    :func:`~gridsup.commands.db.run_with_db`, which reports it.

    Raises:
        SystemExit: the URL names a SQLite database.
    """
    from gridsup.store.database import render_url, resolve_url
    from gridsup.store.errors import DatabaseConfigError

    try:
        url = resolve_url(db_url)
    except DatabaseConfigError:
        return
    if url.get_backend_name() != "postgresql":
        fail(
            f"a cluster lives in PostgreSQL, and {render_url(url)} is not: give the "
            "cluster's database with --db or $GRIDSUP_DB_URL",
            EXIT_BAD_INPUT,
        )


async def read_cluster(db: Database) -> ClusterView:
    """Members, leases and pins in one transaction (one consistent picture)."""
    from gridsup.store import cluster, leases

    await require_schema(db)
    async with db.session() as session:
        return ClusterView(
            now=await cluster.database_now(session),
            ttl_s=cluster.LIVENESS_TTL_S,
            members=await cluster.members(session),
            leases=await leases.leases(session),
            pins=await cluster.pins(session),
        )


def _age(now: dt.datetime, then: dt.datetime) -> float:
    return round(max(0.0, (now - then).total_seconds()), 1)


def view_json(view: ClusterView) -> dict[str, Any]:
    """``status --cluster --json``: members with their grids, leases, pins."""
    live = {m.member for m in view.members if m.live}
    return {
        "now": view.now.isoformat(),
        "liveness_window_s": view.ttl_s,
        "members": [
            {
                "member": m.member,
                "host": m.host,
                "pid": m.pid,
                "state": m.state.value,
                "leaving": m.leaving,
                "started_at": m.started_at.isoformat(),
                "heartbeat_age_s": _age(view.now, m.heartbeat_at),
                "grids": [lease.grid for lease in view.leases if lease.owner == m.member],
            }
            for m in view.members
        ],
        "leases": [
            {
                "grid": lease.grid,
                "owner": lease.owner,
                "owner_live": lease.owner in live,
                "host": lease.host,
                "epoch": lease.epoch,
                "acquired_at": lease.acquired_at.isoformat(),
                "held_s": _age(view.now, lease.acquired_at),
                "renewed_age_s": _age(view.now, lease.renewed_at),
                "pinned_to": view.pins.get(lease.grid),
            }
            for lease in view.leases
        ],
        "pins": dict(sorted(view.pins.items())),
    }


def duration(seconds: float) -> str:
    """``0.4s``, ``2m05s``, ``3h07m``, ``2d04h``: an age an operator reads at a glance."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def echo_view(view: ClusterView, where: str) -> None:
    """The text form of ``status --cluster``."""
    out = view_json(view)
    live = sum(1 for m in out["members"] if m["state"] == "live")
    click.echo(
        f"cluster in {where}: {live} of {len(out['members'])} member(s) live, "
        f"{len(out['leases'])} grid(s) leased (liveness window {view.ttl_s:g}s)"
    )
    if not out["members"]:
        click.echo("no member has joined yet (`gridsup start --cluster`)")
    else:
        width = max(6, *(len(m["member"]) for m in out["members"]))
        click.echo(
            f"{'MEMBER':<{width}} {'STATE':<7} {'HOST':<20} {'PID':>7} {'HEARTBEAT':>9}  GRIDS"
        )
        for m in out["members"]:
            grids = ", ".join(m["grids"]) or "-"
            click.echo(
                f"{m['member']:<{width}} {m['state']:<7} {m['host'][:20]:<20} "
                f"{m['pid']:>7} {duration(m['heartbeat_age_s']):>9}  {grids}"
            )
    if out["leases"]:
        width = max(4, *(len(lease["grid"]) for lease in out["leases"]))
        click.echo("")
        click.echo(f"{'GRID':<{width}} {'OWNER':<16} {'EPOCH':>6} {'HELD':>8} {'RENEWED':>8}  PIN")
        for lease in out["leases"]:
            note = "" if lease["owner_live"] else "  (owner not live: waits for adoption)"
            click.echo(
                f"{lease['grid']:<{width}} {lease['owner']:<16} {lease['epoch']:>6} "
                f"{duration(lease['held_s']):>8} {duration(lease['renewed_age_s']):>8}  "
                f"{lease['pinned_to'] or '-'}{note}"
            )
    unleased = sorted(set(view.pins) - {lease.grid for lease in view.leases})
    for grid in unleased:
        click.echo(f"pin without a lease yet: {grid} -> {view.pins[grid]}")


def show_status(db_url: str | None, as_json: bool) -> None:
    """``gridsup status --cluster``: read the cluster from its database and print it."""
    require_postgres(db_url)

    async def action(db: Database) -> tuple[ClusterView, str]:
        return await read_cluster(db), db.safe_url

    view, where = run_with_db(db_url, action)
    if as_json:
        echo_json(view_json(view))
    else:
        echo_view(view, where)


# -- move ----------------------------------------------------------------------------------


async def _pin(db: Database, grid: str, member: str | None) -> tuple[str, Lease | None]:
    """Write (``member``) or clear (None) the grid's pin after the checks, and the audit
    row either way. Returns what was done (for the message) and the grid's lease then.

    Raises:
        MoveRefused: unknown grid, unknown or not-live member.
    """
    from gridsup.store.dashboard import record_action

    await require_schema(db)
    action = "move" if member is not None else "unpin"
    try:
        async with db.session() as session:
            detail, before = await _apply_pin(session, grid, member)
    except MoveRefused as exc:
        await record_action(
            db, actor=AUDIT_ACTOR, action=action, grid=grid, outcome=exc.outcome, detail=str(exc)
        )
        raise
    await record_action(
        db, actor=AUDIT_ACTOR, action=action, grid=grid, outcome="done", detail=detail
    )
    return detail, before


async def _apply_pin(
    session: AsyncSession, grid: str, member: str | None
) -> tuple[str, Lease | None]:
    from gridsup.store import cluster

    if grid not in await cluster.known_grids(session):
        raise MoveRefused(f"no grid {short(grid)} in the cluster's database", "unknown_grid")
    before = await _lease_of(session, grid)
    where = f"held by {before.owner}, epoch {before.epoch}" if before else "held by no member"
    if member is None:
        if not await cluster.unpin(session, grid):
            return f"{grid} was not pinned: nothing to do ({where})", before
        return f"{grid} unpinned: placed by hashing again ({where})", before
    known = {m.member: m for m in await cluster.members(session)}
    target = known.get(member)
    if target is None:
        names = ", ".join(f"{m.member} ({m.state.value})" for m in known.values()) or "none"
        raise MoveRefused(
            f"no member {short(member)} in the cluster (members: {names})", "unknown_member"
        )
    if not target.live:
        raise MoveRefused(
            f"member {member} is {target.state.value}: a grid moves only to a live member",
            "refused",
        )
    await cluster.pin(session, grid, member)
    return f"{grid} pinned to {member} ({where})", before


async def _lease_of(session: AsyncSession, grid: str) -> Lease | None:
    from gridsup.store import leases

    return {lease.grid: lease for lease in await leases.leases(session)}.get(grid)


async def _wait_for_owner(
    db: Database, grid: str, member: str, before: Lease | None, wait_s: float
) -> bool:
    """Poll the grid's lease until ``member`` holds it in a new incarnation (an epoch
    above ``before``'s: it has taken the grid's lock and claimed it), or it held the
    grid already."""
    import asyncio

    if before is not None and before.owner == member:
        return True
    deadline = time.monotonic() + wait_s
    while True:
        async with db.session() as session:
            lease = await _lease_of(session, grid)
        new = lease is not None and (before is None or lease.epoch > before.epoch)
        if new and lease is not None and lease.owner == member:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_WAIT_POLL_S)


@click.command("move")
@click.argument("grid")
@click.argument("member", required=False)
@click.option("--unpin", is_flag=True, help="Remove GRID's pin: hashing places it again.")
@click.option(
    "--wait",
    "wait_s",
    type=Seconds(3600.0),
    default=None,
    help="Wait up to this many seconds until MEMBER holds the grid (exit 1 if it does not).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@db_option
def move(
    grid: str,
    member: str | None,
    unpin: bool,
    wait_s: float | None,
    as_json: bool,
    db_url: str | None,
) -> None:
    """Move GRID to cluster member MEMBER: its owner hands it over without cancelling
    its orders, MEMBER adopts it, reconciles it with the exchange and trades on. The pin
    holds while MEMBER is live (see `gridsup status --cluster`)."""
    if (member is None) == (not unpin):
        fail("give a MEMBER to move GRID to, or --unpin (not both)", EXIT_BAD_INPUT)
    if unpin and wait_s is not None:
        fail("--wait goes with a MEMBER, not with --unpin", EXIT_BAD_INPUT)
    require_postgres(db_url)

    async def action(db: Database) -> tuple[str, bool, bool | None]:
        try:
            detail, before = await _pin(db, grid, member)
        except MoveRefused as exc:
            return str(exc), False, None
        arrived = None
        if member is not None and wait_s is not None:
            arrived = await _wait_for_owner(db, grid, member, before, wait_s)
        return detail, True, arrived

    detail, done, arrived = run_with_db(db_url, action)
    if not done:
        fail(detail, EXIT_BAD_INPUT)
    payload: dict[str, Any] = {
        "grid": grid,
        "member": member,
        "action": "unpin" if unpin else "move",
        "detail": detail,
    }
    if arrived is False:
        message = f"{detail}; but {member} did not take it within {wait_s:g}s"
        fail(message, EXIT_FAILURE)
    if arrived:
        payload["held_by"] = member
        detail += f"; {member} holds it now"
    if as_json:
        echo_json(payload)
    else:
        click.echo(detail)
