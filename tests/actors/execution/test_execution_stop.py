"""A clean stop of the execution actor loses nothing it did on the exchange.

The runtime cancels an actor's tasks before its ``on_stop``: a placement cut short there
after its order reached the exchange (and, crossing the price, filled at once as taker)
used to leave that fill out of the database for good. Real processes throughout: the
realistic loopback Binance, the real ccxt client, the execution and persistence actors
on SQLite; each test ends with every asset's balance checked against the stored fills.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq
from actor_rig import db_read, fills_in_db, intent, orders_client, start_actors
from trading_support import (
    ActorHost,
    Loopback,
    live_overrides,
    make_run,
    new_id,
    sqlite_url,
)

from gridsup.messages.orders import OrderAck, PlaceOrder
from gridsup.store.fills import FillRepository
from helpers import eventually

D = Decimal
START = {"USDT": D(10000), "BTC": D(1)}


@pytest.fixture
def exchange() -> Iterator[Loopback]:
    """A loopback of the test's own: its balances are the test's to check."""
    server = Loopback(
        "--price", "BTC/USDT=42000", *(f"--balance={a}={v}" for a, v in START.items())
    )
    try:
        yield server
    finally:
        server.close()


def balances_match_the_stored_fills(exchange: Loopback, db_url: str) -> None:
    """Every asset's balance on the exchange = the start + what the stored fills moved
    (what ``gridsup stats`` reports as ``balance_change``), fees included."""
    flows = db_read(db_url, lambda s: FillRepository(s).asset_flows())
    balance = exchange.admin("GET", "/admin/balance")
    held = {a: D(str(v)) + D(str(balance["used"].get(a, 0))) for a, v in balance["free"].items()}
    for asset in set(flows.balance_change) | set(START):
        expected = START.get(asset, D(0)) + flows.balance_change.get(asset, D(0))
        assert held.get(asset, D(0)) == expected, asset


def test_a_taker_fill_cut_short_by_stop_cancel_orders_is_booked(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any], exchange: Loopback
) -> None:
    db_url = sqlite_url(run_base)
    run = make_run(
        actor_host.run_dir, db_url, (("g", "BTC/USDT", D(1000)),), **live_overrides(exchange)
    )
    start_actors(actor_host, run)
    orders = orders_client(zctx, actor_host)
    resting = intent(1, "41000", grid="g")
    taker = intent(2, "43000", grid="g")  # above the price: fills at once, as taker
    try:
        assert isinstance(
            orders.request(PlaceOrder(request_id=new_id(), strategy="g", intent=resting)), OrderAck
        )
        # The taker's trades answer slowly: the stop comes while the placement waits.
        exchange.admin(
            "POST",
            "/admin/faults",
            {"kind": "latency", "method": "GET", "path": "/api/v3/myTrades", "delay": 5},
        )
        orders.send(PlaceOrder(request_id=new_id(), strategy="g", intent=taker))
        eventually(
            lambda: exchange.admin("GET", "/admin/requests").get("GET /api/v3/myTrades"),
            message="the taker placed, its trades asked for",
        )
        assert actor_host.stop("execution", cancel_orders=True) == 0
    finally:
        orders.close()

    stored = {f.client_order_id for f in fills_in_db(db_url)}
    assert taker.client_order_id in stored  # the cut-short placement's fill is booked
    assert exchange.admin("GET", "/admin/open-orders") == []  # the resting one cancelled
    balances_match_the_stored_fills(exchange, db_url)
