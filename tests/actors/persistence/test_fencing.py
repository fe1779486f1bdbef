"""Fencing (the lease epoch in SaveState): a dead incarnation's late save, delivered after
its successor claimed the grid, is refused and never overwrites the successor's state;
across two persistence actors on one database (two cluster members) too. Real processes,
a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from trading_support import PG_URL, ActorHost, Client, make_run, new_id, sqlite_url

from gridsup.actors.run_config import STORE
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    LoadState,
    SaveState,
    StateLoaded,
)
from gridsup.runtime.endpoints import RunDir
from gridsup.store import leases
from gridsup.store.database import Database

TARGET = "gridsup.actors.persistence.actor:build"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, run_base: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return sqlite_url(run_base), None
    return PG_URL, request.getfixturevalue("pg_schema")


def _client(zctx: zmq.Context[Any], run_dir: RunDir) -> Client:
    return Client(zctx, run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC)


def _claim(client: Client, grid: str) -> StateLoaded:
    loaded = client.request(LoadState(request_id=new_id(), grid_id=grid, claim=True))
    assert isinstance(loaded, StateLoaded)
    return loaded


def _save(client: Client, grid: str, version: int, state: bytes, epoch: int) -> Ack:
    ack = client.request(
        SaveState(request_id=new_id(), grid_id=grid, version=version, state=state, epoch=epoch)
    )
    assert isinstance(ack, Ack)
    return ack


async def _lease(url: str, schema: str | None, grid: str) -> tuple[int, str]:
    async with Database(url, schema=schema) as db, db.session() as session:
        [lease] = [x for x in await leases.leases(session) if x.grid == grid]
    return lease.epoch, lease.owner


def test_a_dead_incarnations_late_save_after_its_successors_load_is_refused(
    engine: tuple[str, str | None], actor_host: ActorHost, zctx: zmq.Context[Any]
) -> None:
    url, schema = engine
    run = make_run(actor_host.run_dir, url)
    actor_host.start("persistence", TARGET, run, kind="persistence", schema=schema, migrate=True)
    client = _client(zctx, actor_host.run_dir)
    first = _claim(client, "alpha")
    assert (first.version, first.epoch) == (0, 1)
    assert _save(client, "alpha", 1, b"dead-1", first.epoch).ok

    # The successor claims the grid (the first incarnation was killed, its next save
    # still in flight); then the dead one's save arrives.
    successor = _claim(client, "alpha")
    late = _save(client, "alpha", 2, b"dead-2", first.epoch)

    assert (successor.version, successor.state, successor.epoch) == (1, b"dead-1", 2)
    assert not late.ok and late.error is not None and late.error.startswith("fenced:")
    # The successor's own save of the same version is new, not taken for a duplicate.
    own = _save(client, "alpha", 2, b"successor-2", successor.epoch)
    assert own.ok and not own.duplicate
    loaded = client.request(LoadState(request_id=new_id(), grid_id="alpha"))
    assert (loaded.version, loaded.state) == (2, b"successor-2")
    assert asyncio.run(_lease(url, schema, "alpha"))[0] == 2

    # The persistence actor itself restarts (its cache is gone): the database still fences.
    actor_host.kill("persistence")
    actor_host.start("persistence", TARGET, run, kind="persistence", schema=schema)
    again = _save(client, "alpha", 3, b"dead-3", first.epoch)
    assert not again.ok and again.error is not None and "fenced" in again.error
    loaded = client.request(LoadState(request_id=new_id(), grid_id="alpha"))
    assert (loaded.version, loaded.state) == (2, b"successor-2")
    client.close()


@pytest.mark.postgres
def test_two_members_persistence_actors_fence_each_other_through_the_database(
    pg_schema: str, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """Member A's grid moved to member B (B claimed it); A's persistence actor, which
    cached A's epoch, must still refuse nothing of B and store nothing more of A."""
    host_a, host_b = ActorHost(run_base / "a"), ActorHost(run_base / "b")
    try:
        run_a = make_run(host_a.run_dir, PG_URL)
        run_b = make_run(host_b.run_dir, PG_URL)
        run_a = msgspec.structs.replace(run_a, member="member-a")
        run_b = msgspec.structs.replace(run_b, member="member-b")
        host_a.start(
            "persistence", TARGET, run_a, kind="persistence", schema=pg_schema, migrate=True
        )
        host_b.start("persistence", TARGET, run_b, kind="persistence", schema=pg_schema)
        a, b = _client(zctx, host_a.run_dir), _client(zctx, host_b.run_dir)
        on_a = _claim(a, "beta")
        assert _save(a, "beta", 1, b"a-1", on_a.epoch).ok
        on_b = _claim(b, "beta")
        assert asyncio.run(_lease(PG_URL, pg_schema, "beta")) == (on_a.epoch + 1, "member-b")

        late = _save(a, "beta", 2, b"a-2", on_a.epoch)  # A's cache still says epoch 1
        ok = _save(b, "beta", 2, b"b-2", on_b.epoch)

        assert not late.ok and late.error is not None and "fenced" in late.error
        assert ok.ok and not ok.duplicate
        loaded = b.request(LoadState(request_id=new_id(), grid_id="beta"))
        assert (loaded.version, loaded.state) == (2, b"b-2")
        a.close()
        b.close()
    finally:
        host_a.close()
        host_b.close()
