"""WriteBatch: several store requests sent as one message are stored in one transaction,
in order, never split across two commits, and each is acknowledged on its own (and as a
duplicate when the batch is replayed)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import zmq
from test_persistence_actor import TARGET, _db_counts, _engine, _requests, in_process_actor
from trading_support import ActorHost, Client, make_run, new_id, sqlite_url

from gridsup.actors.persistence import actor as persistence
from gridsup.actors.run_config import PAPER_ACCOUNT_KEY, STORE
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    LoadState,
    SaveState,
    StateLoaded,
    WriteBatch,
)
from helpers import eventually

SNAPSHOT = bytes(range(256)) * 400  # ~100 kB, a paper account's size class


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, run_base: Path) -> tuple[str, str | None]:
    return _engine(request, run_base)


def _flush_batch(version: int = 1) -> WriteBatch:
    """What the execution actor's flush sends: the paper snapshot, then the records it
    covers (order events and fills of grid alpha)."""
    snapshot = SaveState(
        request_id=new_id(), grid_id=PAPER_ACCOUNT_KEY, version=version, state=SNAPSHOT
    )
    return WriteBatch(requests=[snapshot, *_requests(n_fills=30, n_events=15, n_states=0)])


def _read_until(client: Client, done: Any) -> list[Any]:
    """Every reply that arrives, in order, until ``done(replies)``."""
    replies: list[Any] = []
    while not done(replies):
        assert client.sock.poll(10_000), f"no further reply in 10 s after {len(replies)}"
        replies.append(STORE_REPLY_CODEC.decode(client.sock.recv()))
    return replies


def _acks(client: Client, batch: WriteBatch) -> list[Any]:
    """As many replies as ``batch`` has requests."""
    return _read_until(client, lambda got: len(got) >= len(batch.requests))


def _one_each(client: Client, batch: WriteBatch, acks: list[Any]) -> list[Ack]:
    """``acks`` in ``batch``'s order, checked to be exactly one Ack per request (a
    LoadState sent behind them catches any late extra Ack)."""
    ids = [r.request_id for r in batch.requests]
    load = LoadState(request_id=new_id(), grid_id=PAPER_ACCOUNT_KEY)
    client.send(load)
    late = _read_until(client, lambda got: bool(got) and got[-1].request_id == load.request_id)
    assert all(isinstance(a, Ack) for a in acks)
    assert Counter(a.request_id for a in acks + late[:-1]) == Counter(ids)
    by_id = {a.request_id: a for a in acks}
    return [by_id[rid] for rid in ids]


def _acks_once(client: Client, batch: WriteBatch) -> list[Ack]:
    return _one_each(client, batch, _acks(client, batch))


def _start(actor_host: ActorHost, url: str, schema: str | None, migrate: bool = True) -> None:
    run = make_run(actor_host.run_dir, url)
    actor_host.start("persistence", TARGET, run, kind="persistence", schema=schema, migrate=migrate)


def _client(actor_host: ActorHost, zctx: zmq.Context[Any]) -> Client:
    return Client(zctx, actor_host.run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC)


def test_a_write_batch_is_stored_in_one_commit_and_each_request_acked_once(
    engine: tuple[str, str | None], actor_host: ActorHost, zctx: zmq.Context[Any]
) -> None:
    url, schema = engine
    _start(actor_host, url, schema)
    client = _client(actor_host, zctx)
    client.request(LoadState(request_id=new_id(), grid_id="alpha"))  # the only commit so far
    before = eventually(lambda: actor_host.status("persistence").get("batches"))
    batch = _flush_batch()

    client.send(batch)
    replies = _acks(client, batch)
    status = eventually(
        lambda: (s := actor_host.status("persistence"))["written"] >= len(batch.requests) and s
    )
    acks = _one_each(client, batch, replies)

    assert all(a.ok and not a.duplicate for a in acks)
    assert status["batches"] == before + 1
    assert status["last_batch"] == len(batch.requests)
    fills, events, orders = asyncio.run(_db_counts(url, schema))
    assert (fills, events, len(orders)) == (30, 15, 15)
    loaded = client.request(LoadState(request_id=new_id(), grid_id=PAPER_ACCOUNT_KEY))
    assert isinstance(loaded, StateLoaded)
    assert (loaded.version, loaded.state) == (1, SNAPSHOT)
    client.close()


def test_a_replayed_write_batch_is_acked_duplicate_and_stored_once(
    engine: tuple[str, str | None], actor_host: ActorHost, zctx: zmq.Context[Any]
) -> None:
    """The same batch again (a StoreLink re-send after a lost Ack): from the actor's
    cache, and after a kill -9 from the database."""
    url, schema = engine
    _start(actor_host, url, schema)
    client = _client(actor_host, zctx)
    batch = _flush_batch()
    client.send(batch)
    assert all(a.ok and not a.duplicate for a in _acks_once(client, batch))

    client.send(batch)
    replayed = _acks_once(client, batch)
    actor_host.kill("persistence")
    _start(actor_host, url, schema, migrate=False)
    client.send(batch)
    after_restart = _acks_once(client, batch)

    assert all(a.ok and a.duplicate for a in replayed)
    assert all(a.ok and a.duplicate for a in after_restart)
    assert asyncio.run(_db_counts(url, schema))[:2] == (30, 15)
    status = eventually(
        lambda: (
            (s := actor_host.status("persistence")).get("duplicates", 0) >= len(batch.requests)
            and s
        )
    )
    assert status["written"] == 0  # the restarted actor wrote nothing


async def test_a_write_batch_is_never_split_across_commits(
    run_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for 3 requests a commit, units of 1, 4, 1 and 2 requests are committed
    as [1], [4] (alone, whole, over the limit), [1 + 2]: one StoreWriter transaction
    each, every request acked once."""
    monkeypatch.setattr(persistence, "MAX_BATCH", 3)
    event_a, event_b, event_c, fill_0, fill_1, fill_2, state_1, state_2 = _requests(
        n_fills=3, n_events=3, n_states=2
    )
    messages: list[Any] = [
        event_a,
        WriteBatch(requests=[state_1, event_b, fill_0, fill_1]),
        event_c,
        WriteBatch(requests=[state_2, fill_2]),
    ]
    async with in_process_actor(sqlite_url(run_base), None, run_base) as actor:
        replies: list[Any] = []
        actor.send = lambda socket, message, **_: replies.append(message)  # type: ignore[method-assign]
        transactions: list[list[int]] = []
        write = actor.writer.write_requests

        async def spy(requests: Any) -> list[bool]:
            transactions.append([len(records) for records in requests])
            return await write(requests)

        actor.writer.write_requests = spy  # type: ignore[method-assign]
        for message in messages:
            actor.on_store_request(message, [b"peer"])
        queued = actor.status()["queued"]

        sizes: list[int] = []
        while actor._queue:
            await actor._commit_next()
            sizes.append(actor.last_batch)

    assert queued == 8
    assert sizes == [1, 4, 3]
    assert [len(t) for t in transactions] == [1, 4, 3]  # one write_requests call each
    assert actor.status()["queued"] == 0
    ids = [event_a, state_1, event_b, fill_0, fill_1, event_c, state_2, fill_2]
    assert [r.request_id for r in replies] == [r.request_id for r in ids]
    assert all(isinstance(r, Ack) and r.ok and not r.duplicate for r in replies)
    fills, events, _ = await _db_counts(sqlite_url(run_base), None)
    assert (fills, events) == (3, 3)
