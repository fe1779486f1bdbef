"""The paper account's retired client ids live in the store, not in its snapshot: the real
execution and persistence actors on a SQLite file, a paper history of two orders, and a
kill -9 in between. A placement re-sent under an id retired long before the restart is
still refused (the store says so), a new id is placed, and the snapshot never carries
the ids the store holds."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq
from actor_rig import EXECUTION, intent, orders_client, start_actors
from trading_support import ActorHost, make_run, new_id, sqlite_url

from gridsup.actors.run_config import PAPER_ACCOUNT_KEY
from gridsup.messages.common import OrderIntent
from gridsup.messages.orders import (
    CancelOrder,
    OrderAck,
    OrderRejected,
    PlaceOrder,
)
from gridsup.store.database import Database
from gridsup.store.retired_ids import RetiredIdLog
from helpers import eventually, saved_paper_account

GRIDS = (("alpha", "BTC/USDT", Decimal("1000")),)


def buy(cycle: int) -> OrderIntent:
    return intent(3, "40000", cycle=cycle)


def in_store(url: str) -> tuple[int, list[str]]:
    """(retired ids stored, the retired ids the stored paper snapshot still lists)."""

    async def read() -> tuple[int, list[str]]:
        async with Database(url) as db:
            async with db.session() as session:
                count = await RetiredIdLog(session).count(PAPER_ACCOUNT_KEY)
            saved = await saved_paper_account(db)
        assert saved is not None
        return count, list(saved.retired.unsaved)

    return asyncio.run(read())


def test_an_old_client_id_is_refused_after_a_restart(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    run = make_run(actor_host.run_dir, sqlite_url(run_base), GRIDS, paper_history=2)
    start_actors(actor_host, run)
    orders = orders_client(zctx, actor_host)
    try:
        # Eight orders placed and cancelled: the history keeps two, six ids retire.
        for cycle in range(1, 9):
            intent = buy(cycle)
            placed = orders.request(
                PlaceOrder(request_id=new_id(), strategy="alpha", intent=intent)
            )
            assert isinstance(placed, OrderAck), placed
            cancel = CancelOrder(
                request_id=new_id(),
                strategy="alpha",
                client_order_id=intent.client_order_id,
                symbol=intent.symbol,
            )
            assert isinstance(orders.request(cancel), OrderAck)
        _, listed = eventually(
            lambda: (found := in_store(run.db_url))[0] == 6 and found,
            message="six retired ids stored",
        )
        assert buy(1).client_order_id not in listed and len(listed) <= 1

        actor_host.kill("execution")
        actor_host.start("execution", EXECUTION, run, kind="execution")
        resent = orders.request(PlaceOrder(request_id=new_id(), strategy="alpha", intent=buy(1)))
        fresh = orders.request(PlaceOrder(request_id=new_id(), strategy="alpha", intent=buy(9)))

        assert isinstance(resent, OrderRejected) and not resent.retryable, resent
        assert "used before" in resent.reason
        assert isinstance(fresh, OrderAck), fresh
        status = eventually(
            lambda: (s := actor_host.status("execution")).get("placed") == 1 and s,
            message="a heartbeat after the placements",
        )
        assert status["retired_lookups"] == 1  # the old id asked the store; the new one not
        assert status["retired_in_memory"] <= 1
    finally:
        orders.close()
