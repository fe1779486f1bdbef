"""The execution actor in a real process beside the real persistence actor (a real
SQLite file), and the test's sockets to it: what the actor-level tests of this folder
share. The Desk alone, without processes, is in ``desk_parts``."""

from __future__ import annotations

import asyncio
from typing import Any

import zmq
from desk_parts import limit_intent
from trading_support import ActorHost, Client, Subscriber, new_id

from gridsup.actors.run_config import ORDER_UPDATES, ORDERS, RunConfig
from gridsup.messages.common import OrderIntent, Side
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    OrderSnapshot,
    PlaceOrder,
    QueryOrders,
)
from gridsup.store.database import Database
from gridsup.store.fills import FillRepository

PERSISTENCE = "gridsup.actors.persistence.actor:build"
EXECUTION = "gridsup.actors.execution.actor:build"


def intent(
    level: int,
    price: str,
    amount: str = "0.001",
    side: Side = Side.BUY,
    grid: str = "alpha",
    symbol: str = "BTC/USDT",
    cycle: int = 1,
) -> OrderIntent:
    """Grid ``grid``'s limit order at ``level`` (by default alpha's buy of 0.001 BTC)."""
    return limit_intent(grid, level, price, amount, side=side, cycle=cycle, symbol=symbol)


def db_read(url: str, fn: Any) -> Any:
    """What ``fn(session)`` reads from the database at ``url``."""

    async def go() -> Any:
        async with Database(url) as db, db.session() as session:
            return await fn(session)

    return asyncio.run(go())


def fills_in_db(url: str) -> list[Any]:
    return list(db_read(url, lambda s: FillRepository(s).history()))


def start_actors(host: ActorHost, run: RunConfig, with_persistence: bool = True) -> None:
    """The persistence actor (database migrated), then the execution actor, of ``run``."""
    if with_persistence:
        host.start("persistence", PERSISTENCE, run, kind="persistence", migrate=True)
    host.start("execution", EXECUTION, run, kind="execution")


def orders_client(ctx: zmq.Context[Any], host: ActorHost) -> Client:
    """A client of the execution actor's orders socket."""
    return Client(ctx, host.run_dir.endpoint(ORDERS), ORDER_REQUEST_CODEC, ORDER_REPLY_CODEC)


class ExecutionRig:
    """The actors of ``run`` started (:func:`start_actors`), a client of the orders
    socket and a subscriber of every grid's updates."""

    def __init__(
        self,
        host: ActorHost,
        db_url: str,
        ctx: zmq.Context[Any],
        run: RunConfig,
        *,
        with_persistence: bool = True,
    ) -> None:
        self.host, self.db_url, self.run = host, db_url, run
        start_actors(host, run, with_persistence)
        self.orders = orders_client(ctx, host)
        endpoint = host.run_dir.endpoint(ORDER_UPDATES)
        self.updates = Subscriber(ctx, endpoint, ORDER_FEED_CODEC, ())

    def start_execution(self) -> None:
        self.host.start("execution", EXECUTION, self.run, kind="execution")

    def place(self, order: OrderIntent, grid: str | None = None) -> Any:
        grid = grid or self.run.grids[0].name
        return self.orders.request(PlaceOrder(request_id=new_id(), strategy=grid, intent=order))

    def query(self, grid: str | None = None, cids: tuple[str, ...] = ()) -> OrderSnapshot:
        grid = grid or self.run.grids[0].name
        reply = self.orders.request(
            QueryOrders(request_id=new_id(), strategy=grid, client_order_ids=cids)
        )
        assert isinstance(reply, OrderSnapshot)
        return reply

    def close(self) -> None:
        self.orders.close()
        self.updates.close()
