"""The stream follower's order of work, with fakes at its seams (the user stream and the
venue): an event whose order's placement is still in flight waits for that placement
in a task of its own — the other grids' fills are booked meanwhile, not behind it — and
is booked once the placement answered; the audit runs beside the stream. The real
stream and processes are proven in test_execution_stream.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from desk_parts import SYMBOL, grids_run, order_of, trade_of

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.polling import AccountPoller
from gridsup.actors.execution.stream import FeedMode, StreamFollower
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.request_budget import PollPlan
from gridsup.actors.run_config import Mode
from gridsup.exchange.streams import OrderEvent
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.orders import OrderAck, PlaceOrder
from gridsup.messages.store import RecordFill
from gridsup.strategy.ids import make_client_order_id
from helpers import aeventually

D = Decimal


@dataclass
class FakeVenue:
    """The exchange side: placements wait for ``release`` of their client id; the open
    list is whatever was placed."""

    dry_run = False
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    placed: dict[str, Order] = field(default_factory=dict)
    requests: int = 0
    answers: asyncio.Event | None = None
    priced: list[str] = field(default_factory=list)

    async def place(self, intent: OrderIntent) -> Order:
        cid = intent.client_order_id
        order = order_of(intent, f"x{len(self.placed)}", OrderStatus.OPEN)
        self.placed[cid] = order
        gate = self.gates.get(cid)
        if gate is not None:
            await gate.wait()
        return order

    async def cancel(self, order_id: str, symbol: str) -> Order:
        raise AssertionError("no cancel here")

    async def lookup(self, client_order_id: str, symbol: str) -> Order | None:
        return None

    async def trades_of(self, order: Order) -> list[Trade]:
        return []

    async def symbol_trades(self, symbol: str, since: int) -> list[Trade]:
        return []

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        self.requests += 1
        if self.answers is not None:  # a slow exchange: the test answers
            await self.answers.wait()
        return list(self.placed.values())

    async def price(self, symbol: str) -> Decimal | None:
        self.priced.append(symbol)
        return D(600) if symbol == "BNB/USDT" else D(42000)

    async def close(self) -> None:
        return None


class FakeStream:
    """A user stream whose events the test pushes."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[OrderEvent]] = asyncio.Queue()

    async def connect(self) -> None:
        return None

    async def next_events(self) -> list[OrderEvent]:
        return await self.queue.get()

    def silent_for_ms(self) -> int:
        return 0

    async def reset(self, reason: str) -> None:
        return None

    async def close(self) -> None:
        return None


def intent(grid: str, level: int) -> OrderIntent:
    return OrderIntent(
        client_order_id=make_client_order_id(grid, level, Side.BUY, 1),
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=D("0.01"),
        price=D(41000 - level),
    )


async def eventually_async(check: Any, message: str) -> None:
    async def probe() -> bool:
        return bool(check())

    await aeventually(probe, message=message)


@dataclass
class Rig:
    venue: FakeVenue
    stream: FakeStream
    desk: Desk
    follower: StreamFollower
    committed: list[Records]

    def fills(self) -> list[str]:
        return [
            r.fill.client_order_id
            for requests, _ in self.committed
            for r in requests
            if isinstance(r, RecordFill)
        ]

    async def place(self, grid: str, order: OrderIntent) -> Any:
        return await self.desk.place(
            PlaceOrder(request_id=order.client_order_id, strategy=grid, intent=order)
        )


@pytest.fixture(params=[3600.0])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    run = grids_run("a", "b", budget=5000, mode=Mode.LIVE, exchange_id="binance")
    book = TrackedOrders()
    venue = FakeVenue()
    desk = Desk(run, book, Budgets({g.name: g.budget_quote for g in run.grids}), venue, 1)
    committed: list[Records] = []
    poller = AccountPoller(venue, book, desk, PollPlan(run), committed.append, probe_s=60.0)
    stream = FakeStream()
    follower = StreamFollower(
        stream,
        desk,
        book,
        committed.append,
        poller,
        keepalive_ms=1000,
        fallback_after=3,
        retry_s=1.0,
        audit_s=request.param,
    )
    task = asyncio.ensure_future(follower.run())
    try:
        yield Rig(venue, stream, desk, follower, committed)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_event_waiting_for_its_placement_holds_up_no_other_fill(rig: Rig) -> None:
    filled = intent("a", 1)
    assert isinstance((await rig.place("a", filled)).reply, OrderAck)
    await eventually_async(lambda: rig.follower.mode is FeedMode.STREAM, message="on the stream")
    slow = intent("b", 2)
    rig.venue.gates[slow.client_order_id] = asyncio.Event()
    placing = asyncio.ensure_future(rig.place("b", slow))
    await eventually_async(lambda: rig.desk.in_flight(slow.client_order_id), message="in flight")

    # The slow order's NEW event comes first (its answer is still on the way), then the
    # other grid's fill.
    new = OrderEvent(order=rig.venue.placed[slow.client_order_id])
    await rig.stream.queue.put([new, fill_of(rig, filled, "t1")])

    # Booked while the slow placement is still in flight, not after it.
    await eventually_async(lambda: rig.fills() == [filled.client_order_id], message="the fill")
    assert not placing.done() and rig.desk.in_flight(slow.client_order_id)

    rig.venue.gates[slow.client_order_id].set()
    assert isinstance((await placing).reply, OrderAck)
    await eventually_async(lambda: not rig.follower._held, message="the held event booked")
    tracked = rig.desk.book.get(slow.client_order_id)
    assert tracked is not None and tracked.placed and tracked.status is OrderStatus.OPEN
    assert rig.fills() == [filled.client_order_id]  # booked once


def fill_of(rig: Rig, placed: OrderIntent, trade_id: str) -> OrderEvent:
    """The event of ``placed`` filled at once by one trade ``trade_id``."""
    order = rig.venue.placed[placed.client_order_id]
    done = order_of(placed, order.id, OrderStatus.CLOSED, filled=str(placed.amount))
    return OrderEvent(order=done, trade=trade_of(order, trade_id))


@pytest.mark.parametrize("rig", [0.2], indirect=True)  # an audit every 0.2 s
async def test_the_audit_runs_beside_the_stream(rig: Rig) -> None:
    filled = intent("a", 1)
    assert isinstance((await rig.place("a", filled)).reply, OrderAck)
    await eventually_async(lambda: rig.follower.mode is FeedMode.STREAM, message="on the stream")
    rig.venue.answers = asyncio.Event()  # the exchange stops answering REST for a while
    asked = rig.venue.requests
    await eventually_async(lambda: rig.venue.requests > asked, message="the audit under way")

    await rig.stream.queue.put([fill_of(rig, filled, "t1")])

    # The fill is booked while the audit still waits for its answer.
    await eventually_async(lambda: rig.fills() == [filled.client_order_id], message="the fill")
    rig.venue.answers.set()
    await eventually_async(lambda: rig.follower.reconciles >= 2, message="the audit done")
    assert rig.fills() == [filled.client_order_id]  # the audit found nothing more to book


async def test_a_fee_paid_in_bnb_is_valued_in_quote_as_on_the_polled_path(rig: Rig) -> None:
    """Stream fills get the same fee valuation as polled ones: the profit is net of it."""
    filled = intent("a", 1)
    assert isinstance((await rig.place("a", filled)).reply, OrderAck)
    await eventually_async(lambda: rig.follower.mode is FeedMode.STREAM, message="on the stream")
    order = rig.venue.placed[filled.client_order_id]
    done = order_of(filled, order.id, OrderStatus.CLOSED, filled=str(filled.amount))
    event = OrderEvent(order=done, trade=trade_of(order, "t1", fee="0.00075", fee_currency="BNB"))
    await rig.stream.queue.put([event])

    await eventually_async(lambda: rig.fills() == [filled.client_order_id], message="the fill")
    (fill,) = [
        r.fill for requests, _ in rig.committed for r in requests if isinstance(r, RecordFill)
    ]
    assert fill.fee == D("0.00075") and fill.fee_currency == "BNB"
    assert fill.fee_quote == D("0.45")  # 0.00075 BNB at 600 USDT
    assert rig.venue.priced.count("BNB/USDT") == 1
