"""The strategy actor as a real process: the real persistence actor on a real database,
a fake execution venue over the real sockets (strategy_venue.py), ``kill -9`` while the
market moves, a second copy refused by the grid lock, a process that stays light, ticks
listened to only while the strategy can use them, and the trimmed run it is given."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from strategy_venue import FakeVenue
from trading_support import PG_URL, ActorHost, Client, Subscriber, make_run, new_id, sqlite_url

from gridsup.actors.grid.actor import EXIT_LOCKED
from gridsup.actors.run_config import (
    MARKET,
    ORDERS,
    GridSpec,
    RunConfig,
    strategy_actor_name,
    topic,
)
from gridsup.app import KIND_STRATEGY, child_specs
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    OrderSnapshot,
    QueryOrders,
)
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.endpoints import RunDir
from gridsup.runtime.entry import Launch, child_main
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.ids import parse_client_order_id
from gridsup.supervisor.processes import make_context
from helpers import eventually

PERSISTENCE = "gridsup.actors.persistence.actor:build"
STRATEGY = "strategy_probe:build"  # the real StrategyActor, reporting its sys.modules
D = Decimal
START = D("60050")  # levels 59000, 59200 ... 61000: buys at 59000..60000, 60200 empty
TIMEOUT = 20.0


def grid_run(
    actor_host: ActorHost, db_url: str, stop_loss_pct: str | None = None, **overrides: Any
) -> RunConfig:
    grid_id = f"btc{uuid.uuid4().hex[:8]}"  # advisory locks are server-wide: be unique
    config = GridConfig.model_validate(
        {
            "name": "btc",
            "symbol": "BTC/USDT",
            "lower_price": "59000",
            "upper_price": "61000",
            "num_grids": 11,
            "total_investment": "2000",
            "stop_loss_pct": stop_loss_pct,
        }
    )
    spec = GridSpec(
        name="btc",
        grid_id=grid_id,
        symbol="BTC/USDT",
        config=config.model_dump(mode="json"),
        budget_quote=D("2000"),
    )
    run = make_run(actor_host.run_dir, db_url, **overrides)
    return msgspec.structs.replace(run, grids=(spec,))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, run_base: Path) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return sqlite_url(run_base), None
    return PG_URL, request.getfixturevalue("pg_schema")


def start_strategy(host: ActorHost, run: RunConfig) -> None:
    """Start grid btc's actor with the arguments the supervisor gives it (the trimmed run)."""
    (spec,) = [s for s in child_specs(run) if s.name == strategy_actor_name("btc")]
    host.start(
        spec.name, STRATEGY, *spec.args, **spec.kwargs, kind="strategy", ready_timeout=TIMEOUT
    )


def status(host: ActorHost, name: str = "grid-btc") -> dict[str, Any]:
    return host.status(name)


def status_when(
    host: ActorHost, check: Callable[[dict[str, Any]], bool], message: str
) -> dict[str, Any]:
    """The grid's status once ``check`` holds for it."""

    def probe() -> dict[str, Any] | None:
        st = status(host)
        return st if check(st) else None

    result = eventually(probe, timeout=TIMEOUT, message=message)
    assert result is not None
    return result


def trading(venue: FakeVenue, host: ActorHost, open_orders: int) -> dict[str, Any]:
    """Tick until the grid has ``open_orders`` orders on the venue and says so."""

    def check(st: dict[str, Any]) -> bool:
        venue.tick()  # early ticks may reach no one yet (slow joiner): keep ticking
        return len(venue.open_orders("btc")) == open_orders and st.get("open_orders") == open_orders

    return status_when(host, check, f"{open_orders} open orders")


@contextlib.contextmanager
def trading_grid(host: ActorHost, run: RunConfig) -> Iterator[FakeVenue]:
    """Persistence, a fake venue and the grid's strategy actor, trading with its 10 orders."""
    host.start("persistence", PERSISTENCE, run, kind="persistence", migrate=True)
    venue = FakeVenue(host.run_dir, START)
    try:
        start_strategy(host, run)
        trading(venue, host, 10)
        yield venue
    finally:
        venue.close()


def test_killed_strategy_comes_back_reconciled_and_a_second_copy_is_refused(
    database: tuple[str, str | None],
    actor_host: ActorHost,
    capfd: pytest.CaptureFixture[str],
) -> None:
    url, schema = database
    run = grid_run(actor_host, url)
    actor_host.start(
        "persistence", PERSISTENCE, run, kind="persistence", schema=schema, migrate=True
    )
    venue = FakeVenue(actor_host.run_dir, START)
    try:
        start_strategy(actor_host, run)
        # First price: buys at 59000..60000 (6) + a market buy for the 4 sells above.
        first = trading(venue, actor_host, 10)
        assert first["state"] == "trading" and first["phase"] == "running"
        status_when(actor_host, lambda s: s.get("ticks") == "off", "ticks off once running")
        assert first["heavy_modules"] == ""  # no ccxt, pandas, SQLAlchemy in this process

        # A second copy of the grid is refused while the first holds the lock.
        assert second_copy_exit_code(actor_host, run) == EXIT_LOCKED
        assert "grid_locked" in capfd.readouterr().err

        # kill -9; meanwhile the 60000 buy fills and someone cancels the 59000 buy.
        actor_host.kill("grid-btc")
        filled = venue.order_at(Side.BUY, "60000")
        cancelled = venue.order_at(Side.BUY, "59000")
        venue.fill(filled.client_order_id)
        venue.cancel(cancelled.client_order_id)

        start_strategy(actor_host, run)
        back = status_when(
            actor_host, lambda s: s.get("recon_phantoms_filled") == 1, "reconciliation reported"
        )
        assert back["recon_phantoms_cancelled"] == 1 and back["recon_replaced"] == 1
        assert back["ticks"] == "off"  # a restored running grid unsubscribes before Ready
        assert back["recon_mismatches"] == 1  # the cancel; a fill while down is no mismatch
        open_now = venue.open_orders("btc")
        # The fill got its counter sell one level up, the cancelled buy came back
        # under a new id, and no id was ever made twice on the exchange.
        counter = [i for i in open_now.values() if i.side is Side.SELL and i.price == D(60200)]
        assert len(counter) == 1 and counter[0].amount <= filled.amount
        rebuy = [i for i in open_now.values() if i.side is Side.BUY and i.price == D(59000)]
        assert len(rebuy) == 1 and rebuy[0].client_order_id != cancelled.client_order_id
        assert max(venue.created.values()) == 1
        assert len(open_now) == 10
        # The venue was asked about every order the saved state tracked.
        assert filled.client_order_id in venue.queries[-1].client_order_ids

        # Trading goes on: the counter sell fills -> a cycle, and the buy is back.
        venue.fill(counter[0].client_order_id)
        cycled = status_when(
            actor_host, lambda s: s.get("completed_cycles") == 1, "a cycle after the restart"
        )
        assert D(cycled["realized_profit"]) > 0
        eventually(
            lambda: len(venue.open_orders("btc")) == 10, timeout=TIMEOUT, message="rebuy placed"
        )
        buys_at_60000 = [
            cid
            for cid, i in venue.open_orders("btc").items()
            if i.side is Side.BUY and i.price == D(60000)
        ]
        assert len(buys_at_60000) == 1
        assert max(venue.created.values()) == 1
        assert cycled["heavy_modules"] == ""
        assert actor_host.stop("grid-btc") == 0
    finally:
        venue.close()


def second_copy_exit_code(host: ActorHost, run: RunConfig) -> int | None:
    name = strategy_actor_name("btc") + "-copy"
    info = RuntimeInfo(name=name, kind="strategy", run_dir=str(host.run_dir.path))
    launch = Launch(info, STRATEGY, (run,), {"grid_name": "btc"}, log_level="WARNING")
    # spawn, not the host's forkserver: the child's stderr must be this test's (capfd).
    proc = make_context("spawn").Process(target=child_main, args=(launch,), name=name)
    proc.start()
    proc.join(TIMEOUT)
    if proc.is_alive():
        proc.kill()
        proc.join(5)
        pytest.fail("the second copy of the grid did not exit")
    return int(proc.exitcode)


def test_an_order_the_venue_never_got_is_sent_again_under_its_id(
    actor_host: ActorHost, run_base: Path
) -> None:
    run = grid_run(actor_host, sqlite_url(run_base))
    with trading_grid(actor_host, run) as venue:
        actor_host.kill("grid-btc")
        lost = venue.order_at(Side.BUY, "59400")
        venue.forget(lost.client_order_id)  # as if the request never reached the exchange

        start_strategy(actor_host, run)

        eventually(
            lambda: lost.client_order_id in venue.open_orders("btc"),
            timeout=TIMEOUT,
            message="the lost order re-sent",
        )
        # The new process's first heartbeat may still be on its way: wait for it.
        back = status_when(actor_host, lambda s: s.get("recon_resent") == 1, "the resend")
        assert back["recon_resent_ids"] == lost.client_order_id
        assert len(venue.open_orders("btc")) == 10
        parsed = parse_client_order_id(lost.client_order_id)
        assert parsed is not None and parsed.side is Side.BUY


def test_a_temporary_refusal_keeps_the_slot_and_shows_as_waiting_with_its_reason(
    actor_host: ActorHost, run_base: Path
) -> None:
    run = grid_run(actor_host, sqlite_url(run_base))
    reason = "waiting: binance -2010 Account has insufficient balance for requested action."
    with trading_grid(actor_host, run) as venue:
        buy = venue.order_at(Side.BUY, "59800")
        venue.refuse_places = reason
        venue.fill(buy.client_order_id)  # its counter sell is refused, for now

        waiting = status_when(actor_host, lambda s: s.get("orders_waiting") == 1, "waiting")
        assert waiting["waiting_reason"] == reason
        assert waiting["open_orders"] == 10 and waiting["skipped_levels"] == 0  # slot kept
        venue.refuse_places = None

        status_when(actor_host, lambda s: s.get("orders_waiting") == 0, "the retry placed it")
        assert venue.order_at(Side.SELL, "60000").client_order_id in venue.open_orders("btc")


def test_a_cut_orders_cancel_lost_with_the_grid_is_sent_again_by_the_next_start(
    actor_host: ActorHost, run_base: Path
) -> None:
    """A partly filled buy is cut (the rest cancelled, the part bought sold at once); its
    cancel gets no answer and the grid dies: the next start sends the cancel again, and
    the part bought gets its counter sell."""
    run = grid_run(actor_host, sqlite_url(run_base))
    with trading_grid(actor_host, run) as venue:
        buy = venue.order_at(Side.BUY, "59800")
        part = (buy.amount / 2).quantize(D("0.00001"))  # a sell the market accepts
        venue.drop_cancels = True
        venue.fill(buy.client_order_id, part)
        eventually(lambda: venue.cancels[buy.client_order_id] > 0, message="the cut's cancel")
        actor_host.kill("grid-btc")  # before any answer came
        venue.drop_cancels = False

        start_strategy(actor_host, run)

        sell = eventually(
            lambda: next(
                (
                    i
                    for i in venue.open_orders("btc").values()
                    if i.side is Side.SELL and i.price == D("60000")
                ),
                None,
            ),
            timeout=TIMEOUT,
            message="the part bought is sold one level up",
        )
        assert buy.client_order_id not in venue.open_orders("btc")  # cancelled for good
        assert sell.amount == part


def test_a_lost_update_shows_as_a_gap_and_a_resync_applies_it(
    actor_host: ActorHost, run_base: Path
) -> None:
    run = grid_run(actor_host, sqlite_url(run_base))
    with trading_grid(actor_host, run) as venue:
        first = venue.order_at(Side.BUY, "60000")
        second = venue.order_at(Side.BUY, "59800")
        venue.lose_updates("btc")  # the first fill's update never arrives ...

        venue.fill(first.client_order_id)
        venue.fill(second.client_order_id)  # ... the second one's shows the gap

        resynced = status_when(
            actor_host,
            lambda s: s.get("resyncs") == 1 and s.get("open_orders") == 10,
            "a resync after the gap",
        )
        sells = {i.price for i in venue.open_orders("btc").values() if i.side is Side.SELL}
        assert {D(60000), D(60200)} <= sells  # both fills got their counter sells
        assert resynced["recon_phantoms_filled"] >= 1
        assert max(venue.created.values()) == 1


def test_no_order_goes_out_before_the_state_that_names_it_is_durable(
    actor_host: ActorHost, run_base: Path
) -> None:
    """The persistence actor dies: a fill still reaches the strategy, but its counter
    order waits for the state save's Ack, which comes once persistence is back (the
    save is re-sent, not lost)."""
    run = grid_run(actor_host, sqlite_url(run_base), state_timeout_s=0.5)
    with trading_grid(actor_host, run) as venue:
        actor_host.kill("persistence")
        buy = venue.order_at(Side.BUY, "60000")

        venue.fill(buy.client_order_id)

        waiting = status_when(
            actor_host,
            lambda s: s.get("events_handled", 0) >= 1 and s.get("requests_resent", 0) >= 1,
            "the save re-sent while persistence is down",
        )
        assert waiting["requests_pending"] >= 1
        assert not [
            i
            for i in venue.open_orders("btc").values()
            if i.side is Side.SELL and i.price == D(60200)
        ]
        actor_host.start("persistence", PERSISTENCE, run, kind="persistence")
        eventually(
            lambda: [
                i
                for i in venue.open_orders("btc").values()
                if i.side is Side.SELL and i.price == D(60200)
            ],
            timeout=TIMEOUT,
            message="the counter sell after the save's Ack",
        )


def test_stop_with_cancel_orders_cancels_every_order_of_the_grid(
    actor_host: ActorHost, run_base: Path
) -> None:
    run = grid_run(actor_host, sqlite_url(run_base))
    with trading_grid(actor_host, run) as venue:
        assert actor_host.stop("grid-btc", cancel_orders=True) == 0

        assert venue.open_orders("btc") == {}
        assert sum(o.status is OrderStatus.CANCELED for o in venue.orders.values()) == 10


def test_a_mismatch_above_the_threshold_with_abort_stops_only_that_grid(
    actor_host: ActorHost, run_base: Path
) -> None:
    from gridsup.actors.run_config import MismatchPolicy

    run = grid_run(
        actor_host, sqlite_url(run_base), mismatch_threshold=1, mismatch_policy=MismatchPolicy.ABORT
    )
    with trading_grid(actor_host, run) as venue:
        actor_host.kill("grid-btc")
        buys = [i for i in venue.open_orders("btc").values() if i.type is OrderType.LIMIT]
        for intent in buys[:3]:
            venue.cancel(intent.client_order_id)
        before = dict(venue.created)

        start_strategy(actor_host, run)

        aborted = status_when(actor_host, lambda s: s.get("state") == "aborted", "grid aborted")
        assert aborted["stopped"] is True and aborted["recon_aborted"] is True
        assert aborted["recon_mismatches"] == 3
        assert dict(venue.created) == before  # nothing was placed again
        assert all(venue.orders[i.client_order_id].status is OrderStatus.CANCELED for i in buys[:3])


# ------------------------------------------------------------- ticks only when useful


def venue_seq(zctx: zmq.Context[Any], host: ActorHost) -> int:
    """The last update seq the venue published for grid btc (asked like a resync does)."""
    client = Client(zctx, host.run_dir.endpoint(ORDERS), ORDER_REQUEST_CODEC, ORDER_REPLY_CODEC)
    try:
        reply = client.request(QueryOrders(request_id=new_id(), strategy="btc"))
    finally:
        client.close()
    assert isinstance(reply, OrderSnapshot)
    return reply.seq


def test_a_grid_without_stops_listens_to_ticks_only_until_its_orders_are_out(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """Waiting for its first price the grid listens; once its orders are out no tick can
    change anything (fills come from the execution actor), so it unsubscribes and the
    ticks published after that never reach its process."""
    run = grid_run(actor_host, sqlite_url(run_base))
    actor_host.start("persistence", PERSISTENCE, run, kind="persistence", migrate=True)
    venue = FakeVenue(actor_host.run_dir, START)
    witness = Subscriber(
        zctx, actor_host.run_dir.endpoint(MARKET), MARKET_CODEC, (topic("BTC/USDT"),)
    )
    try:
        start_strategy(actor_host, run)
        waiting = status_when(actor_host, lambda s: "ticks" in s, "a first heartbeat")
        assert waiting["phase"] == "waiting_price" and waiting["ticks"] == "on"

        trading(venue, actor_host, 10)  # the first price it got placed the orders
        seq = venue_seq(zctx, actor_host)
        quiet = status_when(
            actor_host,
            lambda s: s.get("ticks") == "off" and s.get("order_seq") == seq,
            "ticks off, every order update handled",
        )
        assert quiet["phase"] == "running" and quiet["last_tick_age_s"] is None
        created = dict(venue.created)
        seen = len(witness.drain())

        for price in range(50_000, 70_000, 1_000):  # 20 ticks, below and above the grid
            venue.tick(D(price))

        eventually(
            lambda: len(witness.drain()) >= seen + 20, timeout=TIMEOUT, message="ticks published"
        )
        beat = status(actor_host)["heartbeats"]
        later = status_when(
            actor_host, lambda s: s["heartbeats"] >= beat + 2, "two heartbeats after the ticks"
        )
        assert later["messages"] == quiet["messages"]  # not one tick reached the process
        assert later["ticks"] == "off" and later["last_tick_age_s"] is None
        assert dict(venue.created) == created
    finally:
        witness.close()
        venue.close()


def test_a_grid_with_a_stop_loss_keeps_listening_and_stops_below_it(
    actor_host: ActorHost, run_base: Path
) -> None:
    run = grid_run(actor_host, sqlite_url(run_base), stop_loss_pct="0.02")  # stop at 57820
    with trading_grid(actor_host, run) as venue:
        running = status(actor_host)
        assert running["phase"] == "running" and running["ticks"] == "on"

        def stopped(st: dict[str, Any]) -> bool:
            venue.tick(D("57800"))
            return st.get("phase") == "stopped" and st.get("ticks") == "off"

        done = status_when(actor_host, stopped, "stopped by the stop-loss, ticks off")
        assert done["stopped"] is True and done["open_orders"] == 0
        assert venue.open_orders("btc") == {}
        exits = [o for o in venue.orders.values() if o.intent.type is OrderType.MARKET]
        assert [o.intent.side for o in exits] == [Side.BUY, Side.SELL]  # entry, then exit


def test_each_strategy_actor_is_given_only_its_grid_and_its_market(run_base: Path) -> None:
    grids = (("alpha", "BTC/USDT", D(1000)), ("beta", "ETH/USDT", D(1000)))
    run = make_run(RunDir(run_base), sqlite_url(run_base), grids=grids)

    specs = child_specs(run)

    given = {s.kwargs["grid_name"]: s.args for s in specs if s.kind == KIND_STRATEGY}
    assert set(given) == {"alpha", "beta"}
    for name, (child_run,) in given.items():
        spec = run.grid(name)
        assert child_run.grids == (spec,)
        assert child_run.markets == {spec.symbol: run.markets[spec.symbol]}
        # Everything else is the run's own.
        assert msgspec.structs.replace(child_run, grids=run.grids, markets=run.markets) == run
    assert all(s.args == (run,) for s in specs if s.kind != KIND_STRATEGY)


# ------------------------------------------------------ against the real execution actor

EXECUTION = "gridsup.actors.execution.actor:build"


def slots_of(snapshot: OrderSnapshot) -> list[int]:
    """The slot of every open order (a buy at level k and a sell at k + 1 share slot k)."""
    slots = []
    for order in snapshot.orders:
        if order.status is not OrderStatus.OPEN:
            continue
        parsed = parse_client_order_id(order.intent.client_order_id)
        assert parsed is not None
        slots.append(parsed.level if parsed.side is Side.BUY else parsed.level - 1)
    return slots


def test_with_the_real_execution_actor_a_kill_during_fills_loses_nothing(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    run = grid_run(actor_host, sqlite_url(run_base))
    ep = actor_host.run_dir.endpoint
    market = zctx.socket(zmq.PUB)
    market.setsockopt(zmq.LINGER, 0)
    market.bind(ep(MARKET))
    actor_host.start("persistence", PERSISTENCE, run, kind="persistence", migrate=True)
    actor_host.start("execution", EXECUTION, run, kind="execution")
    orders = Client(zctx, ep(ORDERS), ORDER_REQUEST_CODEC, ORDER_REPLY_CODEC)

    def tick(price: str) -> None:
        frame = MARKET_CODEC.encode(Tick(symbol="BTC/USDT", timestamp=1, last=D(price)))
        market.send_multipart([topic("BTC/USDT"), frame])

    def snapshot() -> OrderSnapshot:
        reply = orders.request(QueryOrders(request_id=new_id(), strategy="btc"))
        assert isinstance(reply, OrderSnapshot)
        return reply

    def open_at(side: Side, price: str) -> list[str]:
        return [
            o.intent.client_order_id
            for o in snapshot().orders
            if o.status is OrderStatus.OPEN and o.intent.side is side and o.intent.price == D(price)
        ]

    def tick_until(price: str, done: Callable[[], object], message: str) -> None:
        def check() -> object:
            tick(price)
            return done()

        eventually(check, timeout=TIMEOUT, interval=0.05, message=message)

    try:
        start_strategy(actor_host, run)
        tick_until("60050", lambda: len(slots_of(snapshot())) == 10, "the grid placed")
        tick_until("59950", lambda: open_at(Side.SELL, "60200"), "the 60000 buy filled")
        status_when(actor_host, lambda s: s.get("open_orders") == 10, "the counter sell")

        actor_host.kill("grid-btc")
        # While the grid is down the paper account keeps trading: the 60200 sell fills.
        tick_until("60250", lambda: not open_at(Side.SELL, "60200"), "the sell filled")

        start_strategy(actor_host, run)
        back = status_when(actor_host, lambda s: s.get("completed_cycles") == 1, "the cycle booked")
        assert back["recon_phantoms_filled"] == 1 and back["recon_mismatches"] == 0
        assert D(back["realized_profit"]) > 0
        tick_until("60250", lambda: open_at(Side.BUY, "60000"), "the 60000 buy re-placed")
        slots = slots_of(snapshot())
        assert len(slots) == len(set(slots)) == 10  # one order per slot, none missing
        assert status(actor_host)["heavy_modules"] == ""
    finally:
        orders.close()
        market.close(0)
