"""Retired client ids (exchange/paper/retired.py): without a store every forgotten id
stays in the account and its snapshot (the snapshot grows with them); with a store that
takes them at each save the snapshot and the memory stay bounded, and an id that may
have been retired beyond what is in memory is told apart from a new one by its slot's
floor."""

from __future__ import annotations

import pytest
from paper_support import SYMBOL, D, limit, paper

from gridsup.exchange.errors import DuplicateOrder
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.retired import RetiredIds, slot_of
from gridsup.messages.common import Side
from gridsup.strategy.ids import make_client_order_id

BUY = Side.BUY


def cid(level: int, cycle: int, side: Side = BUY, grid: str = "alpha") -> str:
    return make_client_order_id(grid, level, side, cycle)


def trade_cycles(ex: PaperExchange, start: int, count: int, taken: list[str] | None) -> None:
    """``count`` buys, each placed and filled at once (one slot, cycles counting up); with
    ``taken``, a save after each that hands the retired ids to a store (the list)."""
    for cycle in range(start, start + count):
        limit(ex, BUY, "0.1", "100", cid(3, cycle))
        ex.on_price(SYMBOL, D("99"), cycle)
        if taken is not None:
            taken.extend(ex.retired.take())


def test_alone_the_snapshot_grows_with_retired_orders_and_keeps_refusing_them() -> None:
    ex = paper(usdt="100000000", max_history=10)
    trade_cycles(ex, 1, 100, None)
    size_100 = len(ex.snapshot())
    trade_cycles(ex, 101, 900, None)

    assert len(ex.snapshot()) > size_100 + 900 * 15  # every retired id is in it
    restored = PaperExchange.restore(ex.snapshot())
    with pytest.raises(DuplicateOrder):
        limit(restored, BUY, "0.1", "100", cid(3, 1))


def test_with_a_store_the_snapshot_and_memory_stay_bounded() -> None:
    ex = paper(usdt="100000000", max_history=10)
    ex.retired.recent_max = 50
    store: list[str] = []
    trade_cycles(ex, 1, 100, store)
    size_100 = len(ex.snapshot())
    trade_cycles(ex, 101, 900, store)

    # The same size after 990 retired orders as after 90 (the counters' digits aside).
    assert len(ex.snapshot()) <= size_100 + 64
    assert len(store) == 990 and store[0] == cid(3, 1)
    assert len(ex.retired) == 50
    assert ex.retired.floors == {slot_of(cid(3, 1))[0]: 990}  # type: ignore[index]
    # Recent ones are refused from memory; older ones are for the store to say.
    with pytest.raises(DuplicateOrder):
        limit(ex, BUY, "0.1", "100", cid(3, 990))
    assert ex.retired.needs_lookup(cid(3, 1))
    assert not ex.retired.needs_lookup(cid(3, 1001))


def test_ids_retired_since_the_last_save_travel_in_the_snapshot() -> None:
    """Taken ids leave the snapshot; ids retired after the last take stay in it, and a
    restored account hands them to its store again (an idempotent append)."""
    ex = paper(usdt="100000000", max_history=2)
    store: list[str] = []
    trade_cycles(ex, 1, 5, store)
    trade_cycles(ex, 6, 2, None)  # retired, not taken yet

    restored = PaperExchange.restore(ex.snapshot())

    assert store == [cid(3, c) for c in (1, 2, 3)]
    assert restored.retired_client_ids() == [cid(3, 4), cid(3, 5)]
    assert restored.retired.take() == [cid(3, 4), cid(3, 5)]
    assert restored.retired_client_ids() == [cid(3, 4), cid(3, 5)]  # now recent
    assert PaperExchange.restore(restored.snapshot()).retired_client_ids() == []


@pytest.mark.parametrize(
    ("asked", "needs"),
    [
        (cid(3, 7), False),  # above the slot's floor: a new order
        (cid(3, 5), True),  # at the floor: retired by an earlier process, maybe
        (cid(3, 2), True),  # below it
        (cid(3, 1, Side.SELL), False),  # another slot (side) with no floor
        (cid(4, 1), False),  # another level
        (cid(3, 1, grid="beta"), False),  # another grid
        ("foreign-7", True),  # not ours: no slot to judge by
        (cid(3, 6), False),  # retired here and held in memory: refused without asking
    ],
)
def test_an_id_needs_the_store_only_at_or_below_its_slots_floor(asked: str, needs: bool) -> None:
    retired = RetiredIds()
    retired.learn_floors({slot_of(cid(3, 5))[0]: 5})  # type: ignore[index]
    retired.add(cid(3, 6))

    assert retired.needs_lookup(asked) is needs


def test_floors_only_go_up() -> None:
    retired = RetiredIds([cid(3, 9)])
    slot = slot_of(cid(3, 9))[0]  # type: ignore[index]

    retired.learn_floors({slot: 4})
    retired.add(cid(3, 2))

    assert retired.floors == {slot: 9}
    assert slot_of("foreign") is None
