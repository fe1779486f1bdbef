"""A grid paused on request starts paused (issue 20): its actor reads the pause with its
state and sends nothing -- not even the counter order a fill while it was down calls for
-- until a Resume, which reconciles first and then trades.

Real processes: the persistence actor on SQLite and on PostgreSQL, the strategy actor, the
fake venue over the real sockets; the pause is the row ``gridsup pause`` writes.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from strategy_venue import FakeVenue
from test_strategy_actor import (
    PERSISTENCE,
    START,
    TIMEOUT,
    database,
    grid_run,
    start_strategy,
    status_when,
    trading,
    trading_grid,
)
from trading_support import ActorHost, sqlite_url

from gridsup.messages.common import Side
from gridsup.messages.control import COMMAND_CODEC, Pause, Resume
from gridsup.runtime.endpoints import command_topic
from gridsup.store import pauses
from gridsup.store.database import Database
from helpers import eventually

__all__ = ["database"]  # the fixture, shared with test_strategy_actor


async def _pause(url: str, schema: str | None, grid_id: str) -> None:
    async with Database(url, schema=schema) as db, db.session() as session:
        await pauses.pause(session, grid_id, "cli", "by cli")


def _resume(host: ActorHost, actor: str) -> None:
    _command(host, actor, Resume(reason="by test"))


def _command(host: ActorHost, actor: str, command: Pause | Resume) -> None:
    frame = COMMAND_CODEC.encode(command)
    with host._lock:
        host.command.send_multipart([command_topic(actor), frame])


def test_a_paused_grid_restarted_sends_nothing_until_resumed(
    database: tuple[str, str | None], actor_host: ActorHost
) -> None:
    url, schema = database
    run = grid_run(actor_host, url)
    grid_id = run.grids[0].grid_id
    actor_host.start(
        "persistence", PERSISTENCE, run, kind="persistence", schema=schema, migrate=True
    )
    venue = FakeVenue(actor_host.run_dir, START)
    try:
        start_strategy(actor_host, run)
        trading(venue, actor_host, 10)

        # Paused (the row `gridsup pause` writes), then killed; the 60000 buy fills while
        # it is down: a normal start would place its counter sell at once.
        asyncio.run(_pause(url, schema, grid_id))
        actor_host.kill("grid-btc")
        filled = venue.order_at(Side.BUY, "60000")
        venue.fill(filled.client_order_id)
        before = set(venue.orders)

        start_strategy(actor_host, run)  # returns at Ready: any start's sends are out
        held = status_when(actor_host, lambda s: s.get("state") == "paused", "started paused")
        assert held["paused"] is True and "recon_phantoms_filled" not in held
        # The market goes on: its 60200 level is crossed, another of its orders fills.
        venue.tick(Decimal("60300"))
        sell = venue.order_at(Side.SELL, "60400")
        venue.fill(sell.client_order_id)
        waiting = status_when(
            actor_host, lambda s: s.get("events_queued", 0) >= 1, "the fill held while paused"
        )
        assert waiting["state"] == "paused" and waiting["open_orders"] == 10  # as saved
        assert set(venue.orders) == before  # nothing sent: no counter sell, no counter buy

        _resume(actor_host, "grid-btc")
        back = status_when(
            actor_host,
            lambda s: s.get("state") == "trading" and s.get("recon_phantoms_filled") == 2,
            "resumed and reconciled",
        )
        assert back["paused"] is False and back["recon_mismatches"] == 0

        def counters() -> dict[Any, Any] | None:
            open_now = venue.open_orders("btc")
            prices = {(i.side, i.price) for i in open_now.values()}
            want = {(Side.SELL, Decimal(60200)), (Side.BUY, Decimal(60200))}
            return open_now if want <= prices else None

        eventually(counters, timeout=TIMEOUT, message="both counter orders placed")
        assert max(venue.created.values()) == 1
        assert actor_host.stop("grid-btc") == 0
    finally:
        venue.close()


def test_a_grid_paused_while_an_order_waits_does_not_retry_it_until_resumed(
    actor_host: ActorHost, run_base: Path
) -> None:
    """A counter order refused for a passing reason waits for its retry; the grid is
    paused meanwhile: the retry is not sent while paused (a pause places nothing more),
    and the Resume's reconcile places it, once."""
    run = grid_run(actor_host, sqlite_url(run_base))
    with trading_grid(actor_host, run) as venue:
        buy = venue.order_at(Side.BUY, "59800")
        venue.refuse_places = "waiting: binance -2010 Account has insufficient balance"
        venue.fill(buy.client_order_id)  # its counter sell is refused, for now
        status_when(actor_host, lambda s: s.get("orders_waiting") == 1, "waiting")
        sell_id = next(cid for cid in venue.requests if cid not in venue.created)

        _command(actor_host, "grid-btc", Pause(reason="by test"))
        status_when(actor_host, lambda s: s.get("state") == "paused", "paused")
        venue.refuse_places = None
        asked = venue.requests[sell_id]
        time.sleep(4)  # the retries' backoff (0.5 s doubling) would have sent it by now
        assert venue.requests[sell_id] == asked and sell_id not in venue.created

        _resume(actor_host, "grid-btc")
        eventually(lambda: sell_id in venue.created, timeout=TIMEOUT, message="placed on resume")
        assert venue.created[sell_id] == 1
        assert venue.order_at(Side.SELL, "60000").client_order_id == sell_id
