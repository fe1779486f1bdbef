"""`gridsup status --cluster` and `gridsup move` against a real PostgreSQL database with
no supervisor running: what the members' rows say is shown, a move writes its pin and an
audit row, and every refusal exits 2 naming the grid or member (audited too)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from gridsup.cli import cli
from gridsup.store import cluster, leases
from gridsup.store.database import Database

pytestmark = pytest.mark.postgres


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


async def _seed(
    url: str,
    members: Mapping[str, float],
    owners: Mapping[str, str],
    pins: Mapping[str, str] | None = None,
    states: tuple[str, ...] = (),
) -> None:
    """``members``: name -> seconds since its last heartbeat; ``owners``: grid -> member
    (each grid claimed twice, so its epoch is 2)."""
    async with Database(url) as db, db.session() as session:
        for name, age in members.items():
            await cluster.heartbeat(session, name, f"host-{name}", 4000 + len(name))
            await session.execute(
                text(
                    "UPDATE cluster_members SET heartbeat_at = now() - make_interval(secs => :age)"
                    " WHERE member = :name"
                ),
                {"age": age, "name": name},
            )
        for grid, owner in owners.items():
            for _ in range(2):
                await leases.claim(session, grid, owner, f"host-{owner}")
        for grid, member in (pins or {}).items():
            await cluster.pin(session, grid, member)
        for grid in states:
            await session.execute(
                text(
                    "INSERT INTO strategy_states (strategy, version, revision, state, epoch,"
                    " created_at, updated_at) VALUES (:grid, 1, 1, '{}', 0, now(), now())"
                ),
                {"grid": grid},
            )


def seed(url: str, *args: Any, **kwargs: Any) -> None:
    asyncio.run(_seed(url, *args, **kwargs))


async def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    async with Database(url) as db, db.session() as session:
        return [tuple(row) for row in (await session.execute(text(sql))).all()]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    return asyncio.run(_query(url, sql))


def test_status_cluster_shows_members_their_grids_and_leases(cluster_url: str) -> None:
    seed(
        cluster_url,
        {"alpha": 0.0, "beta": 42.0},
        {"btc-a": "alpha", "btc-b": "beta"},
        pins={"btc-a": "alpha"},
    )

    done = run("status", "--cluster", "--json", "--db", cluster_url)

    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    members = {m["member"]: m for m in out["members"]}
    assert members["alpha"]["state"] == "live"
    assert members["alpha"]["grids"] == ["btc-a"]
    assert members["alpha"]["host"] == "host-alpha"
    assert members["beta"]["state"] == "silent"
    assert members["beta"]["heartbeat_age_s"] >= 42
    by_grid = {lease["grid"]: lease for lease in out["leases"]}
    assert by_grid["btc-a"]["epoch"] == 2
    assert by_grid["btc-a"]["owner_live"] is True
    assert by_grid["btc-a"]["pinned_to"] == "alpha"
    assert by_grid["btc-b"]["owner_live"] is False  # waits for adoption
    assert out["pins"] == {"btc-a": "alpha"}

    table = run("status", "--cluster", "--db", cluster_url)
    assert table.exit_code == 0, table.output
    assert "1 of 2 member(s) live, 2 grid(s) leased" in table.output
    assert "beta" in table.output and "silent" in table.output
    assert "owner not live: waits for adoption" in table.output


def test_status_cluster_refuses_a_sqlite_database(tmp_path: Any) -> None:
    done = run("status", "--cluster", "--db", f"sqlite:///{tmp_path / 'x.db'}")

    assert done.exit_code == 2
    assert "a cluster lives in PostgreSQL" in done.output


def test_move_pins_the_grid_and_audits_it(cluster_url: str) -> None:
    seed(cluster_url, {"alpha": 0.0, "beta": 0.0}, {"btc-a": "alpha"})

    done = run("move", "btc-a", "beta", "--json", "--db", cluster_url)

    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["detail"] == "btc-a pinned to beta (held by alpha, epoch 2)"
    assert query(cluster_url, "SELECT grid, member FROM grid_pins") == [("btc-a", "beta")]
    audit = query(cluster_url, "SELECT actor, action, grid, outcome FROM audit_log")
    assert audit == [("cli", "move", "btc-a", "done")]

    unpinned = run("move", "btc-a", "--unpin", "--db", cluster_url)
    assert unpinned.exit_code == 0, unpinned.output
    assert query(cluster_url, "SELECT grid FROM grid_pins") == []


def test_move_accepts_a_grid_known_only_from_its_stored_state(cluster_url: str) -> None:
    seed(cluster_url, {"alpha": 0.0}, {}, states=("eth-a",))

    done = run("move", "eth-a", "alpha", "--db", cluster_url)

    assert done.exit_code == 0, done.output
    assert "held by no member" in done.output


@pytest.mark.parametrize(
    ("grid", "member", "says", "outcome"),
    [
        ("nope", "beta", "no grid 'nope' in the cluster's database", "unknown_grid"),
        (
            "btc-a",
            "gamma",
            "no member 'gamma' in the cluster (members: alpha (live)",
            "unknown_member",
        ),
        ("btc-a", "beta", "member beta is silent: a grid moves only to a live member", "refused"),
    ],
    ids=["unknown_grid", "unknown_member", "silent_member"],
)
def test_move_refuses_with_exit_2_and_audits_the_refusal(
    cluster_url: str, grid: str, member: str, says: str, outcome: str
) -> None:
    seed(cluster_url, {"alpha": 0.0, "beta": 60.0}, {"btc-a": "alpha"})

    done = run("move", grid, member, "--db", cluster_url)

    assert done.exit_code == 2
    assert says in done.output
    assert "Traceback" not in done.output
    assert query(cluster_url, "SELECT grid FROM grid_pins") == []
    assert query(cluster_url, "SELECT action, outcome FROM audit_log") == [("move", outcome)]


@pytest.mark.parametrize(
    "args",
    [["btc-a"], ["btc-a", "beta", "--unpin"], ["btc-a", "--unpin", "--wait", "5"]],
    ids=["no_member", "member_and_unpin", "wait_with_unpin"],
)
def test_move_needs_a_member_or_unpin(cluster_url: str, args: list[str]) -> None:
    done = run("move", *args, "--db", cluster_url)

    assert done.exit_code == 2
    assert "--unpin" in done.output


def test_move_wait_ends_with_exit_1_when_no_member_takes_the_grid(cluster_url: str) -> None:
    # No supervisor runs: the pin is written, nobody adopts the grid.
    seed(cluster_url, {"alpha": 0.0, "beta": 0.0}, {"btc-a": "alpha"})

    done = run("move", "btc-a", "beta", "--wait", "0.6", "--db", cluster_url)

    assert done.exit_code == 1
    assert "beta did not take it within 0.6s" in done.output
    assert query(cluster_url, "SELECT member FROM grid_pins") == [("beta",)]


def test_move_wait_is_done_at_once_when_the_member_holds_the_grid(cluster_url: str) -> None:
    seed(cluster_url, {"alpha": 0.0}, {"btc-a": "alpha"})

    done = run("move", "btc-a", "alpha", "--wait", "5", "--db", cluster_url)

    assert done.exit_code == 0, done.output
    assert "alpha holds it now" in done.output
