"""GridCommitter: a grid's orders leave only once the state that names them is durable
(save, Ack, then send); booked cycles are recorded beside the save and leave the state
once acked; a refused save is retried with the same version, a fenced one stops the
grid. The strategy is a real GridTradingStrategy; the store and the execution actor are
answered by hand at the Requester seam."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from grid_parts import GRID_CONFIG, FakeRequester, grid_strategy, until

from gridsup.actors.grid.commit import UNSENT_KEY, GridCommitter, split_unsent
from gridsup.actors.grid.context import OrderAction
from gridsup.actors.grid.lifecycle import GridFenced
from gridsup.actors.grid.orders import OrderLink
from gridsup.actors.run_config import GridSpec
from gridsup.messages.common import FillReport, OrderIntent, Side
from gridsup.messages.market import Tick
from gridsup.messages.orders import OrderReply, PlaceOrder
from gridsup.messages.store import Ack, RecordTrade, SaveState, StoreReply

D = Decimal


class Grid:
    """A committer wired as the strategy actor wires it, with everything it said."""

    def __init__(self) -> None:
        self.strategy, self.outbox = grid_strategy()
        self.store: FakeRequester[StoreReply] = FakeRequester("s")
        self.exchange: FakeRequester[OrderReply] = FakeRequester("o")
        self.stopping = False
        self.done = 0
        orders = OrderLink(
            self.exchange,  # type: ignore[arg-type]
            "btc",
            "BTC/USDT",
            refused=lambda reply: None,
            wanted=lambda cid: True,
        )
        spec = GridSpec(
            name="btc", grid_id="btc", symbol="BTC/USDT", config=GRID_CONFIG, budget_quote=D(10000)
        )
        self.committer = GridCommitter(
            self.store,  # type: ignore[arg-type]
            orders,
            self.strategy,
            spec,
            "paper",
            guarded=lambda callback, *args: callback(*args),
            stopping=lambda: self.stopping,
            done=self._done,
        )
        self.committer.loaded(0, None, frozenset(), epoch=7)

    def _done(self) -> None:
        self.done += 1

    def act(self, price: str) -> list[OrderAction]:
        self.strategy.on_tick(Tick(symbol="BTC/USDT", timestamp=1, last=D(price)))
        return self.outbox.take()

    def fill(self, intent: OrderIntent) -> list[OrderAction]:
        assert intent.price is not None
        self.strategy.on_order_filled(
            FillReport(
                client_order_id=intent.client_order_id,
                symbol="BTC/USDT",
                side=intent.side,
                price=intent.price,
                amount=intent.amount,
                fee=D(0),
                fee_currency="USDT",
                trade_id=f"t-{intent.client_order_id}",
                timestamp=2,
                order_filled=intent.amount,
                order_closed=True,
            )
        )
        return self.outbox.take()

    def saves(self) -> list[SaveState]:
        return [m for m in self.store.sent if isinstance(m, SaveState)]

    def placed(self) -> list[OrderIntent]:
        return [m.intent for m in self.exchange.sent if isinstance(m, PlaceOrder)]

    def ack(self, message: SaveState | RecordTrade, **fields: object) -> None:
        self.store.answer(Ack(request_id=message.request_id, **fields))  # type: ignore[arg-type]


def test_orders_leave_only_after_the_state_naming_them_is_acked() -> None:
    grid = Grid()
    actions = grid.act("52000")

    grid.committer.commit(actions)

    [save] = grid.saves()
    assert (save.grid_id, save.version, save.epoch) == ("btc", 1, 7)
    state = json.loads(save.state)
    assert sorted(state[UNSENT_KEY]) == sorted(a.client_order_id for a in actions)
    assert (grid.placed(), grid.done) == ([], 0)  # nothing before the Ack

    grid.ack(save)

    assert grid.placed() == [a.intent for a in actions]
    assert (grid.done, grid.committer.state_version) == (1, 1)
    assert grid.committer.unsent == frozenset(a.client_order_id for a in actions)


def test_an_unchanged_state_is_not_saved_again_and_its_orders_leave_at_once() -> None:
    grid = Grid()
    grid.committer.commit(grid.act("52000"))
    grid.ack(grid.saves()[0])

    grid.committer.commit([])  # saved: the placements sent are no longer "unsent"
    grid.ack(grid.saves()[1])
    assert (len(grid.saves()), grid.done) == (2, 2)

    grid.committer.commit([])  # a resync that found nothing new

    assert (len(grid.saves()), grid.done) == (2, 3)


async def test_a_refused_save_is_sent_again_with_the_same_version() -> None:
    grid = Grid()
    grid.committer.commit(grid.act("52000"))
    first = grid.saves()[0]

    grid.ack(first, ok=False, error="database away")
    await until(lambda: len(grid.saves()) == 2, "the save sent again")

    again = grid.saves()[1]
    assert (again.version, again.state, again.request_id != first.request_id) == (
        first.version,
        first.state,
        True,
    )
    assert grid.placed() == []
    grid.ack(again)
    assert len(grid.placed()) > 0


def test_a_fenced_save_stops_the_grid_and_sends_nothing() -> None:
    grid = Grid()
    grid.committer.commit(grid.act("52000"))

    with pytest.raises(GridFenced, match="fenced"):
        grid.ack(grid.saves()[0], ok=False, error="fenced: epoch 8 owns grid btc")

    assert (grid.placed(), grid.done) == ([], 0)


def test_nothing_goes_out_while_stopping() -> None:
    grid = Grid()
    grid.committer.commit(grid.act("52000"))
    grid.stopping = True

    grid.ack(grid.saves()[0])

    assert (grid.placed(), grid.done) == ([], 0)


@pytest.mark.parametrize(("ok", "recorded", "refused"), [(True, 1, 0), (False, 0, 1)])
def test_a_booked_cycle_is_recorded_beside_the_save_and_leaves_the_state_once_answered(
    ok: bool, recorded: int, refused: int
) -> None:
    grid = Grid()
    buy = next(a.intent for a in grid.act("52000") if a.intent and a.intent.price == D(50000))
    assert buy is not None
    [sell] = [a.intent for a in grid.fill(buy) if a.intent is not None]
    assert sell.side is Side.SELL
    grid.fill(sell)  # a cycle: bought at 50000, sold at 55000

    grid.committer.commit([])

    [trade] = [m for m in grid.store.sent if isinstance(m, RecordTrade)]
    assert (trade.open_price, trade.close_price, trade.close_order_id) == (
        D(50000),
        D(55000),
        sell.client_order_id,
    )
    grid.ack(trade, ok=ok, error=None if ok else "bad row")
    assert grid.done == 0  # the save is still out
    grid.ack(grid.saves()[0])
    assert (grid.committer.trades_recorded, grid.committer.trades_refused) == (recorded, refused)
    assert grid.strategy.pending_cycles() == ()
    assert grid.done == 1


def test_the_unsent_ids_are_taken_out_of_a_loaded_state() -> None:
    state: dict[str, object] = {"levels": [1, 2], UNSENT_KEY: ["b", "a"]}

    assert split_unsent(state) == frozenset({"a", "b"})
    assert state == {"levels": [1, 2]}
    assert split_unsent({"levels": []}) == frozenset()
