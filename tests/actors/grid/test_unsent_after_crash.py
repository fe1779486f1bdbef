"""A supervisor crash between a grid's save and its send (issue 17): the state names a
counter sell the exchange never got. The next start re-sends it as the normal outcome it
is (the actor always saves before it sends), not as a ``reconciliation_mismatch`` that
policy abort would turn into a stopped grid.

Real processes: the persistence actor on SQLite, the strategy actor, the fake venue over
the real sockets. The persistence actor is held (SIGSTOP) so that the save is on its way
when the supervisor's beat stops; the orphaned strategy actor exits before the save's Ack
can come, so the sell is never sent; the save then lands.
"""

from __future__ import annotations

import asyncio
import os
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from strategy_venue import FakeVenue
from test_strategy_actor import (
    PERSISTENCE,
    START,
    TIMEOUT,
    grid_run,
    start_strategy,
    status_when,
    trading,
)
from trading_support import ActorHost, sqlite_url

from gridsup.actors.persistence.records import decode_state
from gridsup.actors.run_config import MismatchPolicy
from gridsup.messages.common import Side
from gridsup.store.database import Database
from gridsup.store.state import DatabaseStateStore
from helpers import eventually


async def _saved_state(url: str, grid_id: str) -> dict[str, Any] | None:
    async with Database(url) as db:
        saved = await DatabaseStateStore(db).load(grid_id)
    if saved is None:
        return None
    state = msgspec.json.decode(decode_state(saved)[1])
    assert isinstance(state, dict)
    return state


def never_sent(url: str, grid_id: str, venue: FakeVenue) -> list[str]:
    """The orders the saved state tracks that the venue never got."""
    state = asyncio.run(_saved_state(url, grid_id))
    tracked = [] if state is None else [o["client_order_id"] for o in state["orders"]]
    return [cid for cid in tracked if cid not in venue.orders]


def test_a_supervisor_crash_between_a_save_and_its_send_is_no_mismatch(
    actor_host: ActorHost, run_base: Path
) -> None:
    url = sqlite_url(run_base)
    run = grid_run(actor_host, url, mismatch_threshold=0, mismatch_policy=MismatchPolicy.ABORT)
    grid_id = run.grids[0].grid_id
    # Persistence outlives the crash by far; the grid notices it within a second.
    actor_host.start(
        "persistence", PERSISTENCE, run, kind="persistence", migrate=True, supervisor_timeout=300
    )
    venue = FakeVenue(actor_host.run_dir, START)
    try:
        start_strategy(actor_host, run)
        trading(venue, actor_host, 10)
        persistence = actor_host.children["persistence"].pid
        buy = venue.order_at(Side.BUY, "60000")

        os.kill(persistence, signal.SIGSTOP)
        try:
            venue.fill(buy.client_order_id)
            status_when(
                actor_host,
                lambda s: s.get("events_handled", 0) >= 1 and s.get("requests_pending", 0) >= 1,
                "the save on its way",
            )
            actor_host.beating.clear()  # the supervisor crashes
            grid = actor_host.children["grid-btc"]
            eventually(lambda: not grid.alive(), timeout=TIMEOUT, message="the grid orphaned")
            actor_host.children.pop("grid-btc")
        finally:
            os.kill(persistence, signal.SIGCONT)
        actor_host.beating.set()  # a new supervisor

        # The save lands after all: a counter sell tracked, never sent.
        unsent = eventually(
            lambda: never_sent(url, grid_id, venue),
            timeout=TIMEOUT,
            interval=0.2,
            message="the save landed",
        )
        (sell_id,) = unsent

        start_strategy(actor_host, run)

        back = status_when(actor_host, lambda s: "recon_aborted" in s, "the restart reconciled")
        assert back["state"] != "aborted" and back["stopped"] is False
        assert back["recon_mismatches"] == 0 and back["recon_aborted"] is False
        assert back["recon_unsent"] == 1
        assert back["recon_resent_ids"] == sell_id
        eventually(
            lambda: sell_id in venue.open_orders("btc"),
            timeout=TIMEOUT,
            message="the unsent sell sent",
        )
        sent = venue.open_orders("btc")[sell_id]
        assert sent.side is Side.SELL and sent.price == Decimal("60200")
        assert venue.created[sell_id] == 1
    finally:
        venue.close()
