"""The execution actor in a real process, with the real persistence actor and a real
SQLite file: idempotent placement, budgets, durable-first updates, sequence numbers and
resync snapshots, and a paper account that survives kill -9; then the live path: ccxt
against the loopback Binance exchange (a real HTTP server in a subprocess)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from actor_rig import EXECUTION, PERSISTENCE, ExecutionRig, db_read, fills_in_db, intent
from trading_support import (
    ActorHost,
    Client,
    Loopback,
    live_overrides,
    make_run,
    new_id,
    sqlite_url,
)

from gridsup.actors.run_config import MARKET, PAPER_ACCOUNT_KEY, topic
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_REPLY_CODEC,
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderUpdate,
    PlaceOrder,
)
from gridsup.store.database import Database
from gridsup.store.events import OrderEventLog
from gridsup.store.orders import OrderRepository
from gridsup.strategy.ids import make_client_order_id
from helpers import FakeTime, eventually, saved_paper_account

GRIDS = (("alpha", "BTC/USDT", Decimal("100")), ("beta", "ETH/USDT", Decimal("1000")))


class Rig(ExecutionRig):
    """Persistence + execution actors, the test's sockets to them, and a market feed."""

    def __init__(
        self,
        host: ActorHost,
        db_url: str,
        ctx: zmq.Context[Any],
        with_persistence: bool = True,
        **overrides: Any,
    ) -> None:
        grids = overrides.pop("grids", GRIDS)
        run = make_run(host.run_dir, db_url, grids, **overrides)
        self.market = ctx.socket(zmq.PUB)
        self.market.setsockopt(zmq.LINGER, 0)
        self.market.bind(host.run_dir.endpoint(MARKET))
        super().__init__(host, db_url, ctx, run, with_persistence=with_persistence)

    def tick(self, symbol: str, price: str) -> None:
        self.market.send_multipart(
            [
                topic(symbol),
                MARKET_CODEC.encode(Tick(symbol=symbol, timestamp=1, last=Decimal(price))),
            ]
        )

    def tick_until(self, symbol: str, price: str, done: Any, message: str) -> Any:
        """Publish ``price`` until ``done()`` (a SUB may join late: no sleeps, no loss)."""

        def check() -> Any:
            self.tick(symbol, price)
            return done()

        return eventually(check, timeout=10, interval=0.05, message=message)

    def updates_of(self, grid: str) -> list[OrderUpdate]:
        return [u for u in self.updates.drain() if u.strategy == grid]

    def close(self) -> None:
        super().close()
        self.market.close(0)


@pytest.fixture
def rig(actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]) -> Iterator[Rig]:
    rig = Rig(actor_host, sqlite_url(run_base), zctx)
    try:
        yield rig
    finally:
        rig.close()


def test_place_is_idempotent_by_client_id(rig: Rig) -> None:
    order = intent(10, "40000")
    first = rig.place(order)
    # Re-sends, two of them in flight at once, then one more after the replies.
    requests = [PlaceOrder(request_id=new_id(), strategy="alpha", intent=order) for _ in range(2)]
    for r in requests:
        rig.orders.send(r)
    resent = [rig.orders.reply(r.request_id) for r in requests] + [rig.place(order)]

    assert isinstance(first, OrderAck) and first.status is OrderStatus.OPEN
    assert {(a.client_order_id, a.exchange_order_id) for a in resent} == {
        (order.client_order_id, first.exchange_order_id)
    }
    snapshot = rig.query()
    assert [o.intent.client_order_id for o in snapshot.orders] == [order.client_order_id]
    rows = db_read(rig.db_url, lambda s: OrderRepository(s).history(strategy="alpha"))
    assert [(r.client_order_id, r.status) for r in rows] == [
        (order.client_order_id, OrderStatus.OPEN)
    ]


def test_fill_is_durable_before_its_update(rig: Rig) -> None:
    order = intent(10, "40000")
    rig.place(order)
    seen_in_db: list[bool] = []

    def filled() -> bool:
        trades = [u.fill.trade_id for u in rig.updates_of("alpha") if u.fill is not None]
        if trades and not seen_in_db:
            # The moment the update is in our hands, the fill must be in the database.
            seen_in_db.append(trades[0] in {f.trade_id for f in fills_in_db(rig.db_url)})
        return bool(trades)

    rig.tick_until("BTC/USDT", "39990", filled, "fill update")

    assert seen_in_db == [True]
    update = next(u for u in rig.updates.received if u.fill is not None)
    assert update.status is OrderStatus.CLOSED and update.fill is not None
    assert update.fill.order_closed and update.filled == Decimal("0.001")
    # The paper account saved with the fill in it.
    saved = asyncio.run(_paper_state(rig.db_url))
    assert saved is not None and any(
        t.client_order_id == order.client_order_id for t in saved.trades()
    )


async def _paper_state(url: str) -> PaperExchange | None:
    async with Database(url) as db:
        return await saved_paper_account(db)


@pytest.mark.parametrize(
    ("orders", "refused_at", "says"),
    [
        # alpha's budget is 100 USDT: 40 + 39 fit, 38 more does not, for now: waiting.
        ((("10", "40000"), ("9", "39000"), ("8", "38000")), 2, "waiting: budget exceeded"),
        # one order above the whole budget: never fits, refused for good
        ((("10", "200000"),), 0, "budget exceeded"),
    ],
    ids=["cumulative", "single"],
)
def test_buys_beyond_the_grid_budget_are_refused(
    rig: Rig, orders: tuple[tuple[str, str], ...], refused_at: int, says: str
) -> None:
    replies = [rig.place(intent(int(level), price)) for level, price in orders]

    assert all(isinstance(r, OrderAck) for r in replies[:refused_at])
    refused = replies[refused_at]
    assert isinstance(refused, OrderRejected) and refused.reason.startswith(says)
    assert refused.retryable is says.startswith("waiting")
    # Sells are never refused by the budget, and another grid's budget is its own.
    assert isinstance(rig.place(intent(20, "90000", side=Side.SELL)), OrderAck)
    eth = intent(5, "2000", amount="0.1", grid="beta", symbol="ETH/USDT")
    assert isinstance(rig.place(eth, grid="beta"), OrderAck)


def test_held_base_counts_against_the_budget(rig: Rig) -> None:
    rig.place(intent(10, "40000", amount="0.002"))  # 80 USDT
    rig.tick_until("BTC/USDT", "39000", lambda: rig.updates_of("alpha"), "the buy filled")

    # 80 (+ fee) is now held at cost: another 30 USDT buy passes the 100 budget.
    refused = rig.place(intent(9, "30000"))

    assert isinstance(refused, OrderRejected) and "budget exceeded" in refused.reason
    assert isinstance(rig.place(intent(8, "15000")), OrderAck)


def test_a_buy_over_the_budget_waits_and_is_placed_once_room_comes_back(rig: Rig) -> None:
    """A budget refusal is temporary: the grid asks again (the same PlaceOrder, as its
    retry sends it) and the buy is placed once a cancel or a sale gave the room back."""
    first, _ = rig.place(intent(10, "40000")), rig.place(intent(9, "39000"))
    waiting = PlaceOrder(request_id=new_id(), strategy="alpha", intent=intent(8, "38000"))
    refused = rig.orders.request(waiting)
    assert isinstance(refused, OrderRejected) and refused.retryable
    assert refused.reason.startswith("waiting: budget exceeded")
    eventually(lambda: rig.host.status("execution").get("refused_waiting") == 1)

    cid = first.client_order_id
    cancel = CancelOrder(
        request_id=new_id(), strategy="alpha", client_order_id=cid, symbol="BTC/USDT"
    )
    assert isinstance(rig.orders.request(cancel), OrderAck)  # 40 USDT free again
    again = rig.orders.request(msgspec.structs.replace(waiting, request_id=new_id()))

    assert isinstance(again, OrderAck) and again.status is OrderStatus.OPEN


def test_updates_are_numbered_without_gaps_and_a_snapshot_carries_the_seq(rig: Rig) -> None:
    buys = [intent(level, str(40000 - 100 * level), amount="0.0002") for level in range(1, 6)]
    sells = [
        intent(20 + n, str(41000 + 100 * n), amount="0.0002", side=Side.SELL) for n in range(3)
    ]
    for o in buys + sells:
        assert isinstance(rig.place(o), OrderAck)
    cancel = rig.orders.request(
        CancelOrder(
            request_id=new_id(),
            strategy="alpha",
            client_order_id=buys[0].client_order_id,
            symbol="BTC/USDT",
        )
    )
    assert isinstance(cancel, OrderAck) and cancel.status is OrderStatus.CANCELED

    rig.tick_until("BTC/USDT", "39000", lambda: len(rig.updates_of("alpha")) >= 5, "buys filled")
    rig.tick_until("BTC/USDT", "42000", lambda: len(rig.updates_of("alpha")) >= 8, "sells filled")

    ups = rig.updates_of("alpha")
    assert [u.seq for u in ups] == list(range(1, len(ups) + 1))
    assert len({u.epoch for u in ups}) == 1
    snapshot = rig.query(cids=tuple(o.client_order_id for o in buys + sells))
    assert snapshot.seq == ups[-1].seq and snapshot.epoch == ups[0].epoch
    states = {o.intent.client_order_id: o for o in snapshot.orders}
    assert states[buys[0].client_order_id].status is OrderStatus.CANCELED
    assert all(states[o.client_order_id].status is OrderStatus.CLOSED for o in buys[1:] + sells)
    assert all(len(states[o.client_order_id].fills) == 1 for o in buys[1:] + sells)
    # Fills in the database equal the paper account's own record.
    paper = asyncio.run(_paper_state(rig.db_url))
    assert paper is not None
    assert sorted(f.trade_id for f in fills_in_db(rig.db_url)) == sorted(
        t.id for t in paper.trades()
    )


def test_paper_account_continues_after_kill_9(rig: Rig) -> None:
    resting = intent(10, "30000")
    filled = intent(11, "40000")
    rig.place(resting)
    first = rig.place(filled)
    rig.tick_until("BTC/USDT", "39000", lambda: rig.updates_of("alpha"), "one fill")
    epoch = rig.updates.received[0].epoch

    rig.host.kill("execution")
    rig.start_execution()

    snapshot = rig.query(cids=(resting.client_order_id, filled.client_order_id))
    assert snapshot.epoch > epoch
    states = {o.intent.client_order_id: o for o in snapshot.orders}
    assert states[resting.client_order_id].status is OrderStatus.OPEN
    assert states[filled.client_order_id].status is OrderStatus.CLOSED
    assert [f.amount for f in states[filled.client_order_id].fills] == [Decimal("0.001")]
    # Re-placing either is answered with the same order: nothing is placed twice.
    again = rig.place(filled)
    assert isinstance(again, OrderAck) and again.exchange_order_id == first.exchange_order_id

    # And the restored account trades on: the resting buy fills at the next dip. (Our SUB
    # may still be reconnecting to the new PUB, so ask like a strategy would: a snapshot.)
    def resting_closed() -> bool:
        orders = rig.query(cids=(resting.client_order_id,)).orders
        return any(o.status is OrderStatus.CLOSED for o in orders)

    rig.tick_until("BTC/USDT", "29000", resting_closed, "the resting buy filled after restart")
    assert len(fills_in_db(rig.db_url)) == 2


def test_requests_for_another_grid_or_unknown_orders_are_refused(rig: Rig) -> None:
    wrong_grid = rig.place(intent(1, "40000", grid="beta"), grid="alpha")
    unknown = rig.orders.request(
        CancelOrder(
            request_id=new_id(),
            strategy="alpha",
            client_order_id=make_client_order_id("alpha", 3, Side.BUY, 9),
            symbol="BTC/USDT",
        )
    )

    assert isinstance(wrong_grid, OrderRejected) and "does not belong" in wrong_grid.reason
    assert isinstance(unknown, OrderRejected) and unknown.reason == "unknown order"
    events = db_read(rig.db_url, lambda s: OrderEventLog(s).read())
    assert list(events) == []


def test_codec_round_trip_of_a_snapshot_with_fills(rig: Rig) -> None:
    rig.place(intent(10, "40000"))
    rig.tick_until("BTC/USDT", "39000", lambda: rig.updates_of("alpha"), "fill")
    snapshot = rig.query(cids=(intent(10, "40000").client_order_id,))
    frame = ORDER_REPLY_CODEC.encode(snapshot)
    assert msgspec.msgpack.decode(frame)["type"] == "OrderSnapshot"
    assert ORDER_REPLY_CODEC.decode(frame) == snapshot


def test_no_update_leaves_while_its_fill_is_not_durable(rig: Rig, run_base: Path) -> None:
    """Another connection holds SQLite's write lock: the fill happens on the paper
    account, its records queue at the persistence actor, and no update may leave until
    the lock is released and they are committed."""
    import sqlite3

    rig.place(intent(10, "40000"))
    blocker = sqlite3.connect(run_base / "gridsup.db", isolation_level=None, timeout=10)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        rig.tick_until(
            "BTC/USDT",
            "39000",
            lambda: (
                rig.host.status("execution").get("fills", 0) >= 1
                and rig.host.status("persistence").get("committing", 0) >= 1
            ),
            "the fill queued behind the lock",
        )
        assert rig.updates_of("alpha") == []
        assert rig.host.status("execution")["pending_store_acks"] >= 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    ups = eventually(lambda: rig.updates_of("alpha"), message="update after the commit")
    assert ups[0].fill is not None
    assert [f.trade_id for f in fills_in_db(rig.db_url)] == [ups[0].fill.trade_id]


# -- live: ccxt against the loopback Binance exchange -------------------------------------


def live_intent(rig: Rig, level: int, price: str) -> OrderIntent:
    return intent(level, price, grid=rig.run.grids[0].name)


@pytest.fixture
def live(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any], loopback: Loopback
) -> Iterator[Rig]:
    loopback.set_price("BTC/USDT", "42000")
    # A grid of its own per test: the module's tests share one loopback exchange, and
    # other grids' orders are foreign to this run.
    grids = ((f"g{new_id()[:8]}", "BTC/USDT", Decimal("1000")),)
    rig = Rig(actor_host, sqlite_url(run_base), zctx, grids=grids, **live_overrides(loopback))
    try:
        yield rig
    finally:
        rig.close()


def test_live_fill_while_execution_was_down_reaches_the_database(
    live: Rig, loopback: Loopback
) -> None:
    resting, filled = live_intent(live, 10, "30000"), live_intent(live, 11, "40000")
    live.place(resting)
    live.place(filled)
    live.host.kill("execution")

    loopback.set_price("BTC/USDT", "39000")  # fills while nobody watches
    live.start_execution()
    snapshot = live.query(cids=(resting.client_order_id, filled.client_order_id))

    states = {o.intent.client_order_id: o for o in snapshot.orders}
    assert states[resting.client_order_id].status is OrderStatus.OPEN  # adopted at start
    closed = states[filled.client_order_id]
    assert closed.status is OrderStatus.CLOSED and len(closed.fills) == 1
    assert [f.trade_id for f in fills_in_db(live.db_url)] == [closed.fills[0].trade_id]
    assert len(loopback.orders_by_client_id()[filled.client_order_id]) == 1


@pytest.mark.parametrize(
    ("rate", "burst", "requests", "waits", "slept"),
    [
        (2.0, 2.0, 2, 0, 0.0),  # the burst passes at once
        (2.0, 2.0, 5, 3, 1.5),  # then one token every 0.5 s
        (10.0, 1.0, 4, 3, 0.3),
    ],
)
async def test_token_bucket_makes_callers_wait_for_tokens(
    rate: float, burst: float, requests: int, waits: int, slept: float
) -> None:
    from gridsup.actors.execution.ratelimit import TokenBucket

    fake = FakeTime()
    bucket = TokenBucket(rate, burst, clock=fake.clock, sleep=fake.sleep)

    for _ in range(requests):
        await bucket.acquire()

    assert bucket.waits == waits
    assert sum(fake.slept) == pytest.approx(slept)


@pytest.mark.parametrize("cancel_orders", [False, True], ids=["keep", "cancel"])
def test_a_clean_stop_keeps_or_cancels_the_open_orders(rig: Rig, cancel_orders: bool) -> None:
    orders = [intent(10, "30000"), intent(11, "31000")]
    for o in orders:
        rig.place(o)

    assert rig.host.stop("execution", cancel_orders=cancel_orders) == 0
    rig.start_execution()

    snapshot = rig.query(cids=tuple(o.client_order_id for o in orders))
    expected = OrderStatus.CANCELED if cancel_orders else OrderStatus.OPEN
    assert [o.status for o in snapshot.orders] == [expected, expected]
    rows = db_read(rig.db_url, lambda s: OrderRepository(s).history(strategy="alpha"))
    assert {r.status for r in rows} == {expected}


def test_live_fills_are_polled_recorded_and_published_in_few_requests(
    live: Rig, loopback: Loopback
) -> None:
    orders = [live_intent(live, level, str(40000 - level)) for level in range(10, 14)]
    for o in orders:
        assert isinstance(live.place(o), OrderAck)
    before = loopback.admin("GET", "/admin/requests")
    assert before["GET /api/v3/order"] >= 4  # each placement looked its id up first

    loopback.set_price("BTC/USDT", "39000")  # all four fill at once

    ups = eventually(
        lambda: len(live.updates_of(live.run.grids[0].name)) >= 4 and live.updates.received,
        timeout=10,
        message="four polled fills",
    )
    after = loopback.admin("GET", "/admin/requests")
    assert sorted(u.client_order_id for u in ups) == sorted(o.client_order_id for o in orders)
    assert all(u.status is OrderStatus.CLOSED and u.fill is not None for u in ups)
    assert [u.seq for u in ups] == [1, 2, 3, 4]
    assert sorted(f.trade_id for f in fills_in_db(live.db_url)) == sorted(
        u.fill.trade_id for u in ups if u.fill is not None
    )
    # No order was looked up one by one: the trades of the symbol told everything.
    assert after["GET /api/v3/order"] == before["GET /api/v3/order"]
    assert after["GET /api/v3/myTrades"] - before.get("GET /api/v3/myTrades", 0) <= 2


# -- pure parts, with hand-written fakes ---------------------------------------------------


def test_outbox_entries_leave_in_order_once_their_records_are_acked() -> None:
    from gridsup.actors.execution.outbox import Outbox

    box = Outbox()
    box.push(["a"], [("publish", b"g", 1)])
    box.push([], [("reply", [b"id"], 2)])  # nothing to wait for, but behind the first
    box.push(["b"], [("publish", b"g", 3)], needs_flush=True)

    assert list(box.ready()) == []
    box.acked("a")
    assert [m for _, _, m in box.ready()] == [1, 2]
    box.acked("b")
    assert list(box.ready()) == []  # still waits for the account save
    box.flushed(["save-1"])
    assert list(box.ready()) == []
    box.acked("save-1")
    assert [m for _, _, m in box.ready()] == [3]
    assert len(box) == 0


def test_store_link_resends_what_is_not_acked_in_time() -> None:
    from gridsup.actors.execution.outbox import StoreLink
    from gridsup.messages.store import Ack, SaveState

    sent: list[str] = []
    now = [0.0]
    link = StoreLink(lambda r: sent.append(r.request_id), timeout=1.0, clock=lambda: now[0])
    for rid in ("r1", "r2"):
        link.submit(SaveState(request_id=rid, grid_id="g", version=1, state=b""))

    assert link.on_reply(Ack(request_id="r1")) == "r1"
    now[0] = 0.5
    assert link.resend_due() == 0
    now[0] = 1.0
    assert link.resend_due() == 1
    assert sent == ["r1", "r2", "r2"]
    assert link.on_reply(Ack(request_id="r2", duplicate=True)) == "r2"
    assert link.on_reply(Ack(request_id="r2")) is None  # the re-send's Ack: already booked
    assert link.pending == {}


def test_store_link_resends_a_batch_as_one_batch_in_its_order() -> None:
    from gridsup.actors.execution.outbox import StoreLink
    from gridsup.messages.store import Ack, LoadState, SaveState, WriteBatch

    def save(rid: str) -> SaveState:
        return SaveState(request_id=rid, grid_id="g", version=1, state=rid.encode())

    sent: list[Any] = []
    now = [0.0]
    link = StoreLink(sent.append, timeout=1.0, clock=lambda: now[0])
    alone = link.submit(save("a"))
    first = link.submit_batch([save("s1"), save("r1"), save("r2"), save("r3")])
    second = link.submit_batch([save("s2"), save("r4")])
    single = link.submit_batch([save("r5")])  # a batch of one travels alone

    assert (alone, first, second, single) == ("a", ["s1", "r1", "r2", "r3"], ["s2", "r4"], ["r5"])
    assert sent == [
        save("a"),
        WriteBatch(requests=[save("s1"), save("r1"), save("r2"), save("r3")]),
        WriteBatch(requests=[save("s2"), save("r4")]),
        save("r5"),
    ]
    assert link.on_reply(Ack(request_id="r1")) == "r1"
    assert link.on_reply(Ack(request_id="s2")) == "s2"
    sent.clear()
    now[0] = 1.0

    assert link.resend_due() == 6

    assert sent == [
        save("a"),
        WriteBatch(requests=[save("s1"), save("r2"), save("r3")]),
        save("r4"),  # what is left of a batch: one request, alone
        save("r5"),
    ]
    for rid in ("a", "s1", "r2", "r3", "r4", "r5"):
        assert link.on_reply(Ack(request_id=rid, duplicate=True)) == rid
    assert link.pending == {}
    assert link._batch_of == {}
    with pytest.raises(TypeError):
        link.submit_batch([save("x"), LoadState(request_id="l", grid_id="g")])


@pytest.mark.parametrize(
    ("fills", "base", "cost"),
    [
        ([(Side.BUY, "0.002", "40000", "0.08")], "0.002", "80.08"),
        # 80 out, 41 back: the quote the grid still has out (not half the cost, 40)
        ([(Side.BUY, "0.002", "40000", "0"), (Side.SELL, "0.001", "41000", "0")], "0.001", "39"),
        ([(Side.BUY, "0.001", "40000", "0"), (Side.SELL, "0.001", "41000", "0")], "0", "0"),
        ([(Side.SELL, "0.001", "41000", "0")], "0", "0"),  # an initial holding sold
    ],
    ids=["buy", "half-sold", "sold", "sell-only"],
)
def test_position_follows_the_quote_its_fills_put_out_and_brought_back(
    fills: list[tuple[Side, str, str, str]], base: str, cost: str
) -> None:
    from gridsup.actors.execution.budget import Position
    from gridsup.messages.common import FillReport

    position = Position()
    for n, (side, amount, price, fee) in enumerate(fills):
        position.apply(
            FillReport(
                client_order_id="c",
                symbol="BTC/USDT",
                side=side,
                price=Decimal(price),
                amount=Decimal(amount),
                fee=Decimal(fee),
                fee_currency="USDT",
                trade_id=str(n),
                timestamp=n,
                order_filled=Decimal(amount),
                order_closed=True,
            ),
            "BTC",
        )

    assert (position.base, position.cost) == (Decimal(base), Decimal(cost))


def test_live_placement_through_a_lost_response_and_foreign_orders_left_alone(
    live: Rig, loopback: Loopback
) -> None:
    """A re-sent PlaceOrder whose first answer was lost gives exactly one order; a foreign
    order is reported and survives stop --cancel-orders, while ours is cancelled."""
    from trading_support import LIVE_KEY_ENV, LIVE_SECRET_ENV

    from gridsup.exchange.ccxt.exchange import CcxtExchange
    from gridsup.exchange.loopback.server import binance_url_overrides

    async def manual(op: str, cid: str) -> Any:
        import os

        ex = CcxtExchange(
            "binance",
            api_key=os.environ[LIVE_KEY_ENV],
            secret=os.environ[LIVE_SECRET_ENV],
            url_overrides=binance_url_overrides(loopback.url),
        )
        try:
            if op == "place":
                return await ex.create_order(
                    "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("20000"), cid
                )
            return await ex.fetch_order("BTC/USDT", client_order_id=cid)
        finally:
            await ex.close()

    foreign_cid = f"manual{new_id()[:8]}"
    asyncio.run(manual("place", foreign_cid))
    ours = live_intent(live, 10, "30000")
    # The exchange places our order and its answer never arrives.
    loopback.admin(
        "POST",
        "/admin/faults",
        {"kind": "response_lost", "method": "POST", "path": "/api/v3/order"},
    )
    first = live.place(ours)
    again = [live.place(ours) for _ in range(2)]
    assert isinstance(first, OrderAck) and first.status is OrderStatus.OPEN
    assert {a.exchange_order_id for a in again} == {first.exchange_order_id}
    assert len(loopback.orders_by_client_id()[ours.client_order_id]) == 1

    # Seen by a poll; the module's tests share one loopback account, whose request
    # budget they have spent: polls may wait for it (seen: over 5 s on a loaded host).
    eventually(
        lambda: live.host.status("execution").get("foreign_orders", 0) >= 1,
        timeout=30,
        message="foreign order reported",
    )
    live.host.stop("execution", cancel_orders=True)

    assert asyncio.run(manual("fetch", foreign_cid)).status is OrderStatus.OPEN
    assert asyncio.run(manual("fetch", ours.client_order_id)).status is OrderStatus.CANCELED


# -- the paper account and its records after a kill -9 -------------------------------------


class FakeStore:
    """The test plays the persistence actor (a ROUTER on STORE): it answers every
    request (each one of a WriteBatch too) and keeps them in arrival order; ``messages``
    keeps what arrived as it travelled (a WriteBatch whole). The first message for which
    ``lose(message)`` is true is kept but never answered (its Acks lost)."""

    def __init__(
        self, ctx: zmq.Context[Any], endpoint: str, lose: Callable[[Any], bool] | None = None
    ) -> None:
        from gridsup.messages.store import STORE_REPLY_CODEC, STORE_REQUEST_CODEC

        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.requests: list[Any] = []
        self.messages: list[Any] = []
        self._lose = lose
        self._in, self._out = STORE_REQUEST_CODEC, STORE_REPLY_CODEC

    def serve(self) -> list[Any]:
        from gridsup.messages.store import (
            Ack,
            FindRetiredIds,
            LoadState,
            RetiredIdsFound,
            StateLoaded,
            WriteBatch,
        )

        while self.sock.poll(0):
            identity, frame = self.sock.recv_multipart()
            message = self._in.decode(frame)
            self.messages.append(message)
            requests = message.requests if isinstance(message, WriteBatch) else [message]
            self.requests.extend(requests)
            if self._lose is not None and self._lose(message):
                self._lose = None
                continue
            for request in requests:
                reply: Any = Ack(request_id=request.request_id)
                if isinstance(request, LoadState):
                    reply = StateLoaded(
                        request_id=request.request_id, grid_id=request.grid_id, version=0
                    )
                elif isinstance(request, FindRetiredIds):
                    reply = RetiredIdsFound(request_id=request.request_id)
                self.sock.send_multipart([identity, self._out.encode(reply)])
        return self.requests

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Answer in a thread while the block runs."""
        done = threading.Event()

        def loop() -> None:
            while not done.is_set():
                if self.sock.poll(20):
                    self.serve()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(5)

    def close(self) -> None:
        self.sock.close(0)


def _holds_a_fill(message: Any) -> bool:
    from gridsup.messages.store import RecordFill, WriteBatch

    return isinstance(message, WriteBatch) and any(
        isinstance(r, RecordFill) for r in message.requests
    )


def _filled_against(
    store: FakeStore, host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> Rig:
    """The execution actor alone against ``store`` (serving): a buy placed, then the
    price through it until the batch holding its fill has reached the store."""
    rig = Rig(host, sqlite_url(run_base), zctx, with_persistence=False)
    rig.place(intent(10, "40000"))
    rig.tick_until(
        "BTC/USDT",
        "39000",
        lambda: any(_holds_a_fill(m) for m in list(store.messages)),
        "the fill's batch sent",
    )
    return rig


def test_a_fills_records_travel_behind_the_snapshot_that_holds_it(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """Otherwise a kill -9 could leave the database with a fill that the restored paper
    account never made (and whose trade id it hands out again). They travel in one
    WriteBatch, behind the snapshot: one message, stored in one transaction."""
    from gridsup.messages.store import RecordFill, SaveState

    store = FakeStore(zctx, actor_host.run_dir.endpoint("store"))
    with store.serving():
        rig = _filled_against(store, actor_host, run_base, zctx)
        eventually(lambda: rig.host.status("execution").get("pending_store_acks") == 0)
    requests = store.requests
    fill_at = next(i for i, r in enumerate(requests) if isinstance(r, RecordFill))
    trade_id = requests[fill_at].fill.trade_id
    # What a store holds of the paper account after the requests before the fill's
    # records: the last core and every bucket as last written (docs/paper.md).
    core, buckets = None, {}
    for r in requests[:fill_at]:
        if isinstance(r, SaveState) and r.grid_id == PAPER_ACCOUNT_KEY:
            core = r.state
        elif isinstance(r, SaveState) and r.grid_id.startswith(f"{PAPER_ACCOUNT_KEY}/"):
            buckets[int(r.grid_id.rpartition("/")[2])] = r.state
    assert core is not None, "no snapshot went ahead of the fill's records"
    assert trade_id in {t.id for t in PaperExchange.restore_split(core, buckets).trades()}
    [batch] = [m for m in store.messages if _holds_a_fill(m)]
    # The batch opens with the core, then the buckets it changed, then the records.
    snapshot = batch.requests[0]
    assert isinstance(snapshot, SaveState) and snapshot.grid_id == PAPER_ACCOUNT_KEY
    paper = [
        i
        for i, r in enumerate(batch.requests)
        if isinstance(r, SaveState) and r.grid_id.startswith(PAPER_ACCOUNT_KEY)
    ]
    fill = next(i for i, r in enumerate(batch.requests) if isinstance(r, RecordFill))
    assert paper == list(range(len(paper))) and fill > paper[-1]
    rig.close()
    store.close()


def test_a_flush_whose_acks_are_lost_is_resent_as_one_batch(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """The store never answers the batch of a fill's snapshot and records: the execution
    actor re-sends it as one WriteBatch again — the same requests in the same order, so
    the snapshot and its records still land in one transaction — and only then lets the
    fill's update out."""
    store = FakeStore(zctx, actor_host.run_dir.endpoint("store"), lose=_holds_a_fill)
    with store.serving():
        rig = _filled_against(store, actor_host, run_base, zctx)
        status = eventually(
            lambda: (
                (s := rig.host.status("execution")).get("store_resent", 0) > 0
                and s.get("pending_store_acks") == 0
                and s
            ),
            message="the lost batch re-sent and acked",
        )
    first, again, *_ = [m for m in store.messages if _holds_a_fill(m)]
    assert again == first
    assert status["store_resent"] >= len(first.requests)
    assert eventually(
        lambda: [u for u in rig.updates_of("alpha") if u.fill is not None],
        message="the fill's update published",
    )
    rig.close()
    store.close()


def test_a_snapshot_whose_records_were_lost_gets_them_at_the_next_start(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """The paper account was saved with a fill in it, and then the execution actor died
    before the fill's own records were committed: the next start records it."""
    from trading_support import paper_markets

    from gridsup.actors.run_config import STORE
    from gridsup.messages.store import STORE_REPLY_CODEC, STORE_REQUEST_CODEC, SaveState

    run = make_run(actor_host.run_dir, sqlite_url(run_base), GRIDS)
    actor_host.start("persistence", PERSISTENCE, run, kind="persistence", migrate=True)
    paper = PaperExchange(paper_markets(), run.paper_balances, max_history=1000)
    order = intent(10, "40000")
    paper.create_order(
        order.symbol, order.side, order.type, order.amount, order.price, order.client_order_id
    )
    trades = paper.on_price("BTC/USDT", Decimal("39000"), 1_700_000_000_000)
    store = Client(zctx, actor_host.run_dir.endpoint(STORE), STORE_REQUEST_CODEC, STORE_REPLY_CODEC)
    saved = store.request(
        SaveState(request_id="s", grid_id=PAPER_ACCOUNT_KEY, version=7, state=paper.snapshot())
    )
    assert saved.ok and fills_in_db(run.db_url) == []

    actor_host.start("execution", EXECUTION, run, kind="execution")

    assert [f.trade_id for f in fills_in_db(run.db_url)] == [t.id for t in trades]
    rows = db_read(run.db_url, lambda s: OrderRepository(s).history(strategy="alpha"))
    assert [(r.client_order_id, r.status) for r in rows] == [
        (order.client_order_id, OrderStatus.CLOSED)
    ]
    store.close()
