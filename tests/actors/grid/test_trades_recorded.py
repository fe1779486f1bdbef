"""Every grid cycle the strategy books reaches the ``trades`` table exactly once.

Real processes (persistence, execution with its paper account, strategy actor) on real
databases: the rows equal the strategy's booked cycles (count, profit sum exactly), a
re-sent RecordTrade is stored once, and a ``kill -9`` of the strategy between booking a
cycle and its acknowledgement still ends with that cycle stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategy_venue import FakeVenue
from test_strategy_actor import (
    EXECUTION,
    PERSISTENCE,
    START,
    TIMEOUT,
    grid_run,
    start_strategy,
    status,
    status_when,
    trading,
)
from trading_support import PG_URL, ActorHost, Client, new_id, sqlite_url

from gridsup.actors.run_config import MARKET, ORDERS, STORE, topic
from gridsup.cli import cli
from gridsup.messages.common import OrderStatus, Side
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    OrderSnapshot,
    QueryOrders,
)
from gridsup.messages.store import STORE_REPLY_CODEC, STORE_REQUEST_CODEC, Ack, RecordTrade
from gridsup.store.database import Database
from gridsup.store.models import Trade
from gridsup.store.trades import TradeRepository
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from helpers import eventually
from strategy.fakes import FakeExchange

D = Decimal


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, run_base: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return sqlite_url(run_base), None
    return PG_URL, request.getfixturevalue("pg_schema")


def stored_trades(url: str, schema: str | None, strategy: str = "btc") -> Sequence[Trade]:
    async def read() -> Sequence[Trade]:
        async with Database(url, schema=schema) as db, db.session() as session:
            return await TradeRepository(session).history(strategy=strategy)

    return asyncio.run(read())


def settled(host: ActorHost, cycles: int) -> dict[str, Any]:
    """The grid's status once ``cycles`` are booked and every one is acknowledged."""
    return status_when(
        host,
        lambda s: s.get("completed_cycles") == cycles and s.get("trades_pending") == 0,
        f"{cycles} cycles booked and stored",
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(st.integers(300, 800).map(lambda n: D(n * 100)), min_size=1, max_size=30),
    initial=st.sampled_from(["buy", "none"]),
    fee_in_base=st.booleans(),
    restart_at=st.integers(0, 30),
)
def test_the_strategy_records_every_booked_cycle_once(
    moves: list[Decimal], initial: str, fee_in_base: bool, restart_at: int
) -> None:
    """Pure strategy: the pending records add up to the realized profit, one per sell
    that closed with fills, and survive a restart from the state until acknowledged."""
    config = GridConfig.model_validate(
        {
            "name": "p",
            "symbol": "BTC/USDT",
            "lower_price": "40000",
            "upper_price": "70000",
            "num_grids": 8,
            "total_investment": "50000",
            "initial_position": initial,
        }
    )
    strategy = GridTradingStrategy(config, "prop")
    exchange = FakeExchange(price=D(55000), fee_in_base=fee_in_base)
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(55000))
    for i, price in enumerate(moves):
        exchange.move_to(price)
        if i == restart_at:
            snapshot = strategy.get_state()
            strategy = GridTradingStrategy(config, "prop")
            strategy.from_state(snapshot)
            strategy.initialize(exchange)
            exchange.strategy = strategy
            assert strategy.get_state() == snapshot
    cycles = strategy.pending_cycles()
    assert [c.seq for c in cycles] == list(range(1, len(cycles) + 1))
    assert len({c.close_order_id for c in cycles}) == len(cycles)
    assert sum(c.complete for c in cycles) == strategy.completed_cycles
    total = sum((c.profit for c in cycles), D(0))
    assert abs(total - strategy.realized_profit) <= D("1e-18") * max(len(cycles), 1)
    sold = {f.client_order_id for f in exchange.fills if f.side is Side.SELL}
    assert all(c.close_order_id in sold and c.amount > 0 for c in cycles)
    strategy.ack_cycles({c.seq for c in cycles[:1]})
    assert strategy.pending_cycles() == cycles[1:]
    assert strategy.drain_cycles() == list(cycles[1:]) and strategy.pending_cycles() == ()


def test_cycles_of_a_paper_run_are_the_trades_rows_and_stats_show_them(
    database: tuple[str, str | None], actor_host: ActorHost, zctx: zmq.Context[Any]
) -> None:
    url, schema = database
    run = grid_run(actor_host, url)
    ep = actor_host.run_dir.endpoint
    market = zctx.socket(zmq.PUB)
    market.setsockopt(zmq.LINGER, 0)
    market.bind(ep(MARKET))
    actor_host.start(
        "persistence", PERSISTENCE, run, kind="persistence", schema=schema, migrate=True
    )
    actor_host.start("execution", EXECUTION, run, kind="execution")
    orders = Client(zctx, ep(ORDERS), ORDER_REQUEST_CODEC, ORDER_REPLY_CODEC)
    store = Client(zctx, ep(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC)

    def tick(price: str) -> None:
        frame = MARKET_CODEC.encode(Tick(symbol="BTC/USDT", timestamp=1, last=D(price)))
        market.send_multipart([topic("BTC/USDT"), frame])

    def open_at(side: Side, price: str) -> bool:
        reply = orders.request(QueryOrders(request_id=new_id(), strategy="btc"))
        assert isinstance(reply, OrderSnapshot)
        return any(
            o.status is OrderStatus.OPEN and o.intent.side is side and o.intent.price == D(price)
            for o in reply.orders
        )

    def tick_until(price: str, done: Callable[[], object], message: str) -> None:
        def check() -> object:
            tick(price)
            return done()

        eventually(check, timeout=TIMEOUT, interval=0.05, message=message)

    try:
        start_strategy(actor_host, run)
        tick_until("60050", lambda: open_at(Side.BUY, "60000"), "the grid placed")
        for n in range(1, 4):  # three round trips 60000 -> 60200
            tick_until("59950", lambda: open_at(Side.SELL, "60200"), f"buy {n} filled")
            tick_until("60250", lambda: open_at(Side.BUY, "60000"), f"sell {n} filled")
        st = settled(actor_host, 3)
        rows = stored_trades(url, schema)
        assert len(rows) == 3 == st["trades_recorded"]
        assert sum((r.profit or D(0) for r in rows), D(0)) == D(st["realized_profit"])
        assert all(not r.is_open and r.side is Side.BUY and r.exchange == "paper" for r in rows)
        assert {r.open_price for r in rows} == {D(60000)}
        assert {r.close_price for r in rows} == {D(60200)}
        assert all(r.fee > 0 and r.open_order_id and r.close_order_id for r in rows)
        assert len({r.close_order_id for r in rows}) == 3

        # A re-send of a stored cycle is acknowledged as a duplicate and stored once.
        first = rows[0]
        again = RecordTrade(
            request_id=new_id(),
            grid_id="btc",
            exchange="paper",
            symbol="BTC/USDT",
            amount=first.amount,
            open_price=first.open_price,
            open_order_id=first.open_order_id,
            opened_at=first.opened_at,
            close_price=first.close_price,
            close_order_id=first.close_order_id or "",
            closed_at=first.closed_at or 0,
            fee=first.fee,
            profit=D("12345"),
        )
        reply = store.request(again)
        assert isinstance(reply, Ack) and reply.ok and reply.duplicate
        assert len(stored_trades(url, schema)) == 3

        if schema is None:  # the CLI has no --schema: read the SQLite file
            out = CliRunner().invoke(cli, ["stats", "--db", url, "--json"])
            assert out.exit_code == 0, out.output
            figures = json.loads(out.output)
            assert figures["trades"] == 3
            assert D(figures["total_profit"]) == D(st["realized_profit"])
    finally:
        orders.close()
        store.close()
        market.close(0)


def test_a_kill_between_booking_and_ack_stores_the_cycle_exactly_once(
    database: tuple[str, str | None], actor_host: ActorHost
) -> None:
    url, schema = database
    run = grid_run(actor_host, url)

    def start_persistence() -> None:
        actor_host.start(
            "persistence", PERSISTENCE, run, kind="persistence", schema=schema, migrate=True
        )

    start_persistence()
    venue = FakeVenue(actor_host.run_dir, START)
    try:
        start_strategy(actor_host, run)
        trading(venue, actor_host, 10)
        buy = venue.order_at(Side.BUY, "60000")
        venue.fill(buy.client_order_id)
        eventually(
            lambda: any(
                i.side is Side.SELL and i.price == D(60200)
                for i in venue.open_orders("btc").values()
            ),
            timeout=TIMEOUT,
            message="the counter sell placed",
        )
        sell = venue.order_at(Side.SELL, "60200")

        # The store goes away; the sell fills: the cycle is booked but never acknowledged.
        actor_host.kill("persistence")
        venue.fill(sell.client_order_id)
        status_when(actor_host, lambda s: s.get("completed_cycles") == 1, "the cycle booked")
        assert status(actor_host)["trades_pending"] == 1
        actor_host.kill("grid-btc")

        start_persistence()
        assert stored_trades(url, schema) == []
        start_strategy(actor_host, run)
        # The saved state predates the sell's fill: reconciliation books it again.
        back = settled(actor_host, 1)
        assert back["recon_phantoms_filled"] == 1
        rows = stored_trades(url, schema)
        assert len(rows) == 1
        assert rows[0].close_order_id == sell.client_order_id
        assert rows[0].open_order_id == buy.client_order_id
        assert rows[0].profit == D(back["realized_profit"]) > 0

        # Another kill and start: nothing booked twice, nothing stored twice.
        actor_host.kill("grid-btc")
        start_strategy(actor_host, run)
        again = settled(actor_host, 1)
        assert again["trades_pending"] == 0
        assert len(stored_trades(url, schema)) == 1
    finally:
        venue.close()
