"""The execution actor's two in-memory ledgers, against simple models of what they
promise: the Outbox lets actions leave in production order once their records (and, for
some, the next account save) are acked; the TrackedOrders lists a grid's open orders, in
the order they were tracked, as the account-wide list filtered by grid would."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gridsup.actors.execution.outbox import Outbox
from gridsup.actors.execution.tracked_orders import TrackedOrder, TrackedOrders
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side

# -- Outbox ----------------------------------------------------------------------------

# A step: push an entry (waiting for some fresh ids, maybe for the next save), send the
# account save (the ids of its batch), or ack one id sent so far (any, in any order).
_push = st.tuples(st.just("push"), st.integers(0, 3), st.booleans())
_flush = st.tuples(st.just("flush"), st.integers(0, 4), st.just(False))
_ack = st.tuples(st.just("ack"), st.integers(0, 10_000), st.just(False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_push, _flush, _ack), max_size=60))
def test_outbox_releases_what_the_model_releases_in_order(
    steps: list[tuple[str, int, bool]],
) -> None:
    box = Outbox()
    counter = 0
    sent: list[str] = []  # every request id ever sent, acked or not
    acked: set[str] = set()
    # The model: each entry's ids, plus the ids of the save it waits for once sent.
    model: list[tuple[int, set[str], bool]] = []  # (entry no, ids, still waits for a save)
    released: list[int] = []
    expected: list[int] = []

    def fresh(n: int) -> list[str]:
        nonlocal counter
        ids = [f"r{counter + i}" for i in range(n)]
        counter += n
        sent.extend(ids)
        return ids

    for no, (kind, n, needs_flush) in enumerate(steps):
        if kind == "push":
            ids = fresh(n)
            box.push(ids, [("publish", b"g", no)], needs_flush=needs_flush)
            model.append((no, set(ids), needs_flush))
        elif kind == "flush":
            ids = fresh(n)
            box.flushed(ids)
            model = [
                (e, waits | set(ids), False) if flush else (e, waits, flush)
                for e, waits, flush in model
            ]
        elif sent:
            rid = sent[n % len(sent)]
            box.acked(rid)
            acked.add(rid)
        released.extend(m for _, _, m in box.ready())
        while model and not model[0][2] and model[0][1] <= acked:
            expected.append(model.pop(0)[0])
        assert released == expected
    assert len(box) == len(model)


def test_outbox_entries_waiting_for_one_save_leave_once_all_of_it_is_acked() -> None:
    box = Outbox()
    for no in range(3):
        box.push([], [("reply", [b"id"], no)], needs_flush=True)
    box.flushed(["snapshot", "fill-1", "ledger"])
    for rid in ("ledger", "snapshot"):  # acks in any order
        box.acked(rid)
        assert list(box.ready()) == []
    box.acked("fill-1")
    assert [m for _, _, m in box.ready()] == [0, 1, 2]
    box.acked("fill-1")  # a re-sent request's second Ack changes nothing
    assert len(box) == 0


# -- TrackedOrders -------------------------------------------------------------------------


def _tracked(grid: str, n: int) -> TrackedOrder:
    intent = OrderIntent(
        client_order_id=f"{grid}c{n}",
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=Decimal("0.001"),
        price=Decimal(59000 + n),
    )
    return TrackedOrder(grid=grid, intent=intent)


# A step: track a new order of grid 0-2, finish an open one (by its number), or discard one.
_book_steps = st.lists(
    st.tuples(st.sampled_from(["add", "settle", "discard"]), st.integers(0, 2), st.integers(0, 50)),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(_book_steps)
def test_a_grids_open_orders_are_the_accounts_filtered_by_grid(
    steps: list[tuple[str, int, int]],
) -> None:
    book = TrackedOrders(keep_final=5)
    made: list[TrackedOrder] = []
    for n, (kind, grid, pick) in enumerate(steps):
        if kind == "add" or not made:
            made.append(book.add(_tracked(f"g{grid}", n)))
            continue
        order = made[pick % len(made)]
        if kind == "settle":
            order.status = OrderStatus.CLOSED
            book.settle(order)
        else:
            book.discard(order.cid)
        every = list(book.open_orders())
        for g in ("g0", "g1", "g2"):
            mine = list(book.open_orders(g))
            assert mine == [o for o in every if o.grid == g]
            assert book.open_buy_notional(g) == sum((o.open_buy_notional for o in mine), Decimal(0))
        assert len(book) == len(every)
