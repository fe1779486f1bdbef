"""What reconciliation asks of the grid: tracked orders as intents, adopting orphans."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gridsup.messages.common import Side
from gridsup.strategy.grid import AdoptOutcome, GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.ids import make_client_order_id, parse_client_order_id
from strategy.fakes import FakeExchange

D = Decimal
CONFIG = GridConfig.model_validate(
    {
        "name": "rec",
        "symbol": "BTC/USDT",
        "lower_price": "40000",
        "upper_price": "70000",
        "num_grids": 7,
        "total_investment": "10000",
    }
)


def running() -> tuple[GridTradingStrategy, FakeExchange]:
    strategy = GridTradingStrategy(CONFIG, "rec")
    exchange = FakeExchange(price=D(52000))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(52000))
    return strategy, exchange


def test_tracked_orders_are_the_intents_that_placed_them() -> None:
    strategy, exchange = running()

    tracked = strategy.tracked_orders()

    assert tracked == exchange.open
    assert all(strategy.tracks(cid) for cid in tracked)
    assert not strategy.tracks("someone-else")


def restarted_without(cid: str) -> tuple[GridTradingStrategy, FakeExchange]:
    """The state of a grid that crashed after placing ``cid`` but before saving it."""
    strategy, exchange = running()
    state = strategy.get_state()
    state["orders"] = [o for o in state["orders"] if o["client_order_id"] != cid]
    restored = GridTradingStrategy(CONFIG, "rec")
    restored.from_state(state)
    restored.initialize(exchange)
    exchange.strategy = restored
    return restored, exchange


def test_an_orphan_goes_back_onto_its_slot_and_trades_on() -> None:
    _, exchange = running()
    cid = next(c for c, i in exchange.open.items() if i.price == D(50000))
    restored, exchange = restarted_without(cid)
    intent = exchange.open[cid]
    assert restored.slot_invariant_violations() != []  # slot 2 looks empty

    outcome = restored.adopt_order(cid, intent.side, intent.price, intent.amount, D(0))  # type: ignore[arg-type]

    assert outcome is AdoptOutcome.ADOPTED
    assert restored.slot_invariant_violations() == []
    exchange.move_to(D(49000))  # it fills: the counter sell goes out with a fresh id
    sell = next(i for i in exchange.open.values() if i.price == D(55000))
    parsed, adopted = parse_client_order_id(sell.client_order_id), parse_client_order_id(cid)
    assert parsed is not None and adopted is not None and parsed.cycle > adopted.cycle


def test_a_lost_state_is_rebuilt_from_the_open_orders() -> None:
    original, exchange = running()
    fresh = GridTradingStrategy(CONFIG, "rec")
    fresh.initialize(exchange)
    exchange.strategy = fresh
    placed = len(exchange.placed)

    outcomes = {
        fresh.adopt_order(cid, i.side, i.price, i.amount, D(0))  # type: ignore[arg-type]
        for cid, i in list(exchange.open.items())
    }
    exchange.tick(D(52000))  # the first price places nothing on top of them

    assert outcomes == {AdoptOutcome.ADOPTED}
    assert len(exchange.placed) == placed
    assert fresh.open_orders() == original.open_orders()
    assert fresh.base_held == sum(i.amount for i in exchange.open.values() if i.side is Side.SELL)
    assert fresh.slot_invariant_violations() == []


def test_an_adopted_sell_that_filled_books_its_cycle() -> None:
    _, exchange = running()
    cid = next(c for c, i in exchange.open.items() if i.price == D(65000))
    sold = exchange.open.pop(cid)  # it filled while the state was lost
    fresh = GridTradingStrategy(CONFIG, "rec")
    fresh.initialize(exchange)
    exchange.strategy = fresh
    for other, i in list(exchange.open.items()):
        fresh.adopt_order(other, i.side, i.price, i.amount, D(0))  # type: ignore[arg-type]

    outcome = fresh.adopt_order(cid, Side.SELL, D(65000), sold.amount, sold.amount)

    assert outcome is AdoptOutcome.ADOPTED
    assert fresh.completed_cycles == 1 and not fresh.tracks(cid)
    # its cost is estimated as a buy one level down: 60000 x amount x 1.001
    proceeds = D(65000) * sold.amount * D("0.999")
    assert fresh.realized_profit == proceeds - D(60000) * sold.amount * D("1.001")
    # The first price (above the slot now) refills the emptied slot with a buy whose id
    # continues the adopted order's cycle. (A market entry would restart the market-order
    # counter: see "lost state" in docs/strategies.md.)
    exchange.tick(D(66000))
    assert fresh.slot_invariant_violations() == []
    assert any(i.price == D(60000) and i.side is Side.BUY for i in exchange.open.values())


@pytest.mark.parametrize(
    ("cid", "side", "price", "expected"),
    [
        ("x-123", Side.BUY, D(45000), AdoptOutcome.FOREIGN),
        (
            make_client_order_id("other-grid", 1, Side.BUY, 9),
            Side.BUY,
            D(45000),
            AdoptOutcome.FOREIGN,
        ),
        (make_client_order_id("rec", 1, Side.BUY, 9), Side.BUY, D(45000), AdoptOutcome.SLOT_TAKEN),
        (make_client_order_id("rec", 1, Side.BUY, 9), Side.BUY, D(45001), AdoptOutcome.NOT_A_LEVEL),
        (
            make_client_order_id("rec", 1, Side.BUY, 9),
            Side.SELL,
            D(45000),
            AdoptOutcome.NOT_A_LEVEL,
        ),
        (
            make_client_order_id("rec", 0, Side.SELL, 9),
            Side.SELL,
            D(40000),
            AdoptOutcome.NOT_A_LEVEL,
        ),
        (
            make_client_order_id("rec", 999, Side.BUY, 9),
            Side.BUY,
            D(45000),
            AdoptOutcome.NOT_A_LEVEL,
        ),
    ],
)
def test_orders_that_cannot_be_adopted(
    cid: str, side: Side, price: Decimal, expected: AdoptOutcome
) -> None:
    strategy, _ = running()
    before = strategy.get_state()

    assert strategy.adopt_order(cid, side, price, D("0.01"), D(0)) is expected
    assert strategy.get_state() == before


def test_a_tracked_order_is_already_tracked() -> None:
    strategy, exchange = running()
    cid, intent = next(iter(exchange.open.items()))

    outcome = strategy.adopt_order(cid, intent.side, intent.price, intent.amount, D(0))  # type: ignore[arg-type]

    assert outcome is AdoptOutcome.ALREADY_TRACKED


def test_restoring_after_initialize_keeps_placing_into_the_restored_book() -> None:
    # The strategy actor binds its context first and loads the state after.
    original, exchange = running()
    restored = GridTradingStrategy(CONFIG, "rec")
    restored.initialize(exchange)
    restored.from_state(original.get_state())
    exchange.strategy = restored

    exchange.move_to(D(49000))

    assert restored.slot_invariant_violations() == []
    assert any(i.price == D(55000) and i.side is Side.SELL for i in exchange.open.values())
