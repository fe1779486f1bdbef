"""The persistence actor in a real process, on a real SQLite file and a real PostgreSQL
schema: group commit, Ack only after the commit, idempotent re-sends, LoadState, and
nothing lost across a kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from trading_support import PG_URL, ActorHost, Client, make_run, new_id, sqlite_url

from gridsup.actors.persistence.actor import PersistenceActor
from gridsup.actors.run_config import STORE
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    LoadState,
    RecordFill,
    RecordOrderEvent,
    SaveState,
    StateLoaded,
)
from gridsup.store.database import Database
from gridsup.store.events import OrderEventLog
from gridsup.store.fills import FillRepository
from gridsup.store.orders import OrderRepository
from helpers import eventually

TARGET = "gridsup.actors.persistence.actor:build"


def _intent(i: int) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"gs0000000{'b' if i % 2 else 's'}001{i}",
        symbol="BTC/USDT",
        side=Side.BUY if i % 2 else Side.SELL,
        type=OrderType.LIMIT,
        amount=Decimal("0.001"),
        price=Decimal("60000.10") + i,
    )


def _requests(n_fills: int = 40, n_events: int = 20, n_states: int = 20) -> list[Any]:
    out: list[Any] = []
    for i in range(n_events):
        intent = _intent(i)
        out.append(
            RecordOrderEvent(
                request_id=new_id(),
                event_id=f"ev-{i}",
                grid_id="alpha",
                exchange="paper",
                client_order_id=intent.client_order_id,
                status=OrderStatus.CLOSED,
                timestamp=1_700_000_000_000 + i,
                intent=intent,
                exchange_order_id=str(i),
                filled=intent.amount,
                reason="filled",
            )
        )
    for i in range(n_fills):
        intent = _intent(i % n_events)
        fill = FillReport(
            client_order_id=intent.client_order_id,
            symbol="BTC/USDT",
            side=intent.side,
            price=intent.price or Decimal(1),
            amount=Decimal("0.0005"),
            fee=Decimal("0.03"),
            fee_currency="USDT",
            trade_id=f"t-{i}",
            timestamp=1_700_000_000_000 + i,
            order_filled=Decimal("0.0005"),
            order_closed=False,
        )
        out.append(
            RecordFill(
                request_id=new_id(),
                grid_id="alpha",
                exchange="paper",
                exchange_order_id=str(i % n_events),
                fill=fill,
            )
        )
    for v in range(1, n_states + 1):
        out.append(
            SaveState(request_id=new_id(), grid_id="alpha", version=v, state=f"s{v}".encode())
        )
    return out


def _send_all(client: Client, requests: list[Any]) -> list[Ack]:
    for r in requests:
        client.send(r)
    return [client.reply(r.request_id) for r in requests]


def _resent(requests: list[Any]) -> list[Any]:
    """The same requests under new request ids (what a restarted sender does)."""
    return [msgspec.structs.replace(r, request_id=new_id()) for r in requests]


async def _db_counts(url: str, schema: str | None) -> tuple[int, int, list[Any]]:
    async with Database(url, schema=schema) as db, db.session() as session:
        fills = await FillRepository(session).history(strategy="alpha")
        events = await OrderEventLog(session).read(strategy="alpha")
        orders = await OrderRepository(session).history(strategy="alpha")
    return len(fills), len(events), list(orders)


def _engine(request: pytest.FixtureRequest, run_base: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return sqlite_url(run_base), None
    return PG_URL, request.getfixturevalue("pg_schema")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, run_base: Path) -> tuple[str, str | None]:
    return _engine(request, run_base)


def test_acks_duplicates_and_load_state_survive_kill(
    engine: tuple[str, str | None], actor_host: ActorHost, zctx: zmq.Context[Any]
) -> None:
    url, schema = engine
    run = make_run(actor_host.run_dir, url)
    actor_host.start("persistence", TARGET, run, kind="persistence", schema=schema, migrate=True)
    client = Client(
        zctx, actor_host.run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC
    )
    requests = _requests()

    acks = _send_all(client, requests)

    assert all(isinstance(a, Ack) and a.ok and not a.duplicate for a in acks)
    loaded = client.request(LoadState(request_id=new_id(), grid_id="alpha"))
    assert loaded == StateLoaded(
        request_id=loaded.request_id, grid_id="alpha", version=20, state=b"s20"
    )
    fills, events, orders = asyncio.run(_db_counts(url, schema))
    assert (fills, events, len(orders)) == (40, 20, 20)
    assert {o.status for o in orders} == {OrderStatus.CLOSED}
    assert all(o.filled == Decimal("0.001") for o in orders)

    # kill -9, restart: what was acked is there, and re-sends are recognised from the DB.
    actor_host.kill("persistence")
    actor_host.start("persistence", TARGET, run, kind="persistence", schema=schema)
    again = _send_all(client, _resent(requests))
    assert all(a.ok and a.duplicate for a in again)
    old_state = client.request(
        SaveState(request_id=new_id(), grid_id="alpha", version=3, state=b"old")
    )
    assert old_state.duplicate
    loaded = client.request(LoadState(request_id=new_id(), grid_id="alpha"))
    assert (loaded.version, loaded.state) == (20, b"s20")
    assert asyncio.run(_db_counts(url, schema))[:2] == (40, 20)
    client.close()


def test_load_state_of_an_unknown_grid_is_version_zero(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    run = make_run(actor_host.run_dir, sqlite_url(run_base))
    actor_host.start("persistence", TARGET, run, kind="persistence", migrate=True)
    client = Client(
        zctx, actor_host.run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC
    )

    loaded = client.request(LoadState(request_id="r", grid_id="nobody"))

    assert loaded == StateLoaded(request_id="r", grid_id="nobody", version=0, state=None)
    client.close()


def test_group_commit_stores_what_queued_during_a_commit_in_one_transaction(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """While another connection holds SQLite's write lock, every request queues up; when
    it is released they are stored in (at most) two commits, and none is acked before."""
    url = sqlite_url(run_base)
    run = make_run(actor_host.run_dir, url)
    actor_host.start("persistence", TARGET, run, kind="persistence", migrate=True)
    client = Client(
        zctx, actor_host.run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC
    )
    client.request(LoadState(request_id="warm", grid_id="alpha"))  # connection pool warm
    before = eventually(lambda: actor_host.status("persistence").get("batches"))
    written = actor_host.status("persistence")["written"]
    blocker = sqlite3.connect(run_base / "gridsup.db", isolation_level=None, timeout=10)
    blocker.execute("BEGIN IMMEDIATE")
    requests = _requests(n_fills=100, n_events=30, n_states=30)
    try:
        for r in requests:
            client.send(r)
        # Everything is received and waiting (the first batch is stuck on the lock).
        eventually(
            lambda: (
                (s := actor_host.status("persistence")).get("queued", 0) + s.get("committing", 0)
                >= len(requests)
            ),
            timeout=10,
            message="requests queued behind the lock",
        )
        assert not client.sock.poll(0), "an Ack went out before its commit"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    acks = [client.reply(r.request_id) for r in requests]

    assert all(a.ok and not a.duplicate for a in acks)
    status = eventually(
        lambda: (s := actor_host.status("persistence"))["written"] >= written + len(requests) and s
    )
    assert 1 <= status["batches"] - before <= 2
    assert asyncio.run(_db_counts(url, None))[:2] == (100, 30)
    client.close()


def test_one_orders_events_in_one_burst_leave_its_most_advanced_row(
    engine: tuple[str, str | None], actor_host: ActorHost, zctx: zmq.Context[Any]
) -> None:
    """Acknowledged, filled and closed events of one order arrive together (one batch):
    the order row ends closed and filled (PostgreSQL refuses two upserts of one row in
    a statement, so the batch must carry one)."""
    url, schema = engine
    run = make_run(actor_host.run_dir, url)
    actor_host.start("persistence", TARGET, run, kind="persistence", schema=schema, migrate=True)
    client = Client(
        zctx, actor_host.run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC
    )
    order = _intent(1)
    steps = [
        (OrderStatus.OPEN, Decimal(0), "acknowledged"),
        (OrderStatus.OPEN, Decimal("0.0005"), "filled"),
        (OrderStatus.CLOSED, Decimal("0.001"), "filled"),
        (OrderStatus.OPEN, Decimal("0.0005"), "late"),  # a stale re-send arriving last
    ]
    events = [
        RecordOrderEvent(
            request_id=new_id(),
            event_id=f"ev-{n}",
            grid_id="alpha",
            exchange="paper",
            client_order_id=order.client_order_id,
            status=status,
            timestamp=1_700_000_000_000 + n,
            intent=order,
            exchange_order_id="7",
            filled=filled,
            reason=reason,
        )
        for n, (status, filled, reason) in enumerate(steps)
    ]

    acks = _send_all(client, events)

    assert all(a.ok for a in acks)
    _, logged, orders = asyncio.run(_db_counts(url, schema))
    assert logged == 4
    assert [(o.status, o.filled) for o in orders] == [(OrderStatus.CLOSED, Decimal("0.001"))]
    client.close()


@contextlib.asynccontextmanager
async def in_process_actor(
    url: str, schema: str | None, run_base: Path
) -> AsyncIterator[PersistenceActor]:
    """A persistence actor of a migrated database, driven by calling its ``_commit``
    (no process, no sockets: the group commit itself)."""
    from gridsup.actors.run_config import Mode, RunConfig
    from gridsup.store.migrate import upgrade

    run = RunConfig(
        run_dir=str(run_base), exchange_id="paper", mode=Mode.DRY_RUN, db_url=url,
        markets={}, grids=(),
    )  # fmt: skip
    actor = PersistenceActor(run, schema=schema)
    await actor.db.connect()
    try:
        await upgrade(actor.db)
        yield actor
    finally:
        await actor.db.disconnect()


@pytest.mark.postgres
async def test_a_value_postgres_refuses_fails_its_request_only(
    pg_schema: str, run_base: Path
) -> None:
    """A trade id too long for its column is a DataError on PostgreSQL: that request is
    refused, the rest of the batch is stored, and the commit is not retried forever."""
    async with in_process_actor(PG_URL, pg_schema, run_base) as actor:
        _, good, long_id = _requests(n_fills=2, n_events=1, n_states=0)
        bad = msgspec.structs.replace(
            long_id, fill=msgspec.structs.replace(long_id.fill, trade_id="t" * 200)
        )
        replies = {r.request_id: r for _, r in await actor._commit([([b"p"], good), ([b"p"], bad)])}
    ok, refused = replies[good.request_id], replies[bad.request_id]
    assert isinstance(ok, Ack) and ok.ok
    assert isinstance(refused, Ack) and not refused.ok
    assert "RecordRefused" in (refused.error or "")
    fills, _, _ = await _db_counts(PG_URL, pg_schema)
    assert fills == 1


@pytest.mark.parametrize("with_bad", [False, True], ids=["all_good", "one_bad"])
async def test_one_commit_tells_new_duplicate_and_bad_requests_apart(
    engine: tuple[str, str | None], run_base: Path, with_bad: bool
) -> None:
    """The actor's group commit, in process: duplicates stored before and duplicates
    within the batch are acked ``duplicate`` — in one transaction, and in the one by
    one retry that a bad record forces, which refuses only that record's request — and
    LoadState sees the batch's save."""
    url, schema = engine
    async with in_process_actor(url, schema, run_base) as actor:
        event, fill_1, fill_2, state_1 = _requests(n_fills=2, n_events=1, n_states=1)
        first = await actor._commit([([b"peer"], m) for m in (event, fill_1, state_1)])
        assert all(isinstance(r, Ack) and r.ok and not r.duplicate for _, r in first)

        bad = msgspec.structs.replace(
            fill_2,
            request_id=new_id(),
            fill=msgspec.structs.replace(fill_2.fill, trade_id="t-bad", price=Decimal("1e-25")),
        )
        state_2 = SaveState(request_id=new_id(), grid_id="alpha", version=2, state=b"s2")
        load = LoadState(request_id=new_id(), grid_id="alpha")
        batch = [
            *_resent([event, fill_1, fill_2, fill_2, state_1]),
            *([bad] if with_bad else []),
            state_2,
            load,
        ]
        replies = {r.request_id: r for _, r in await actor._commit([([b"peer"], m) for m in batch])}

    outcome = [
        (r.ok, r.duplicate) if isinstance(r, Ack) else r.version
        for r in (replies[m.request_id] for m in batch)
    ]
    assert outcome == [
        (True, True),  # event: stored by the first commit
        (True, True),  # fill_1: idem
        (True, False),  # fill_2: new
        (True, True),  # fill_2 again, within the batch
        (True, True),  # state 1: not newer than the stored one
        *([(False, False)] if with_bad else []),  # a price with 25 decimals: refused
        (True, False),  # state 2
        2,  # LoadState, answered after the batch's writes
    ]
    if with_bad:
        assert "MoneyRangeError" in (replies[bad.request_id].error or "")
    fills, events, _ = await _db_counts(url, schema)
    assert (fills, events) == (2, 1)
