"""Paper fills: a tick or a missed candle that trades through our orders on the paper
account becomes fill records and each grid's next numbered update; an order of one of
our grids that the desk did not track is tracked on its fill; a tick for a market the
account does not have, or a live account, books nothing."""

from __future__ import annotations

from decimal import Decimal

from desk_parts import EPOCH, SYMBOL, PaperDesk, cid, updates

from gridsup.actors.execution.paper_fills import PaperFills
from gridsup.exchange.types import Candle
from gridsup.messages.common import OrderStatus
from gridsup.messages.market import Tick
from gridsup.messages.store import RecordFill, RecordOrderEvent

D = Decimal


def paper_fills(paper: PaperDesk) -> PaperFills:
    return PaperFills(paper.bench(), paper.account)


async def test_a_fill_becomes_a_record_an_event_and_the_grids_next_update() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    await paper.desk.place(paper.place("b", 1, "51000"))

    requests, actions = paper_fills(paper).on_tick(paper.tick("49000"))

    fills = [r for r in requests if isinstance(r, RecordFill)]
    assert sorted((f.grid_id, f.fill.price, f.fill.order_closed) for f in fills) == [
        ("a", D(50000), True),
        ("b", D(51000), True),
    ]
    by_grid = {u.strategy: u for u in updates(actions)}
    assert {g: (u.seq, u.epoch, u.status) for g, u in by_grid.items()} == {
        "a": (1, paper.desk.epoch, OrderStatus.CLOSED),
        "b": (1, paper.desk.epoch, OrderStatus.CLOSED),
    }
    assert by_grid["a"].fill is not None and by_grid["a"].fill.amount == D("0.01")
    assert paper.book.get(cid("a", 1)).status is OrderStatus.CLOSED  # type: ignore[union-attr]
    assert paper.budgets.positions["a"].base > 0
    assert paper.booking.fills == 2


async def test_a_missed_candle_that_dipped_fills_the_buy_it_crossed() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    await paper.desk.place(paper.place("a", 2, "45000"))
    dip = Candle(EPOCH + 60_000, D(52000), D(52100), D(49500), D(51000), D(3))

    (requests, actions), fills = paper_fills(paper).replay_candles(SYMBOL, [dip])

    assert fills == 1
    [fill] = [r for r in requests if isinstance(r, RecordFill)]
    assert (fill.fill.client_order_id, fill.fill.price) == (cid("a", 1), D(50000))
    assert [u.client_order_id for u in updates(actions)] == [cid("a", 1)]
    assert [o.client_order_id for o in paper.account.open_orders()] == [cid("a", 2)]


def test_an_untracked_order_of_ours_is_tracked_when_it_fills() -> None:
    paper = PaperDesk()
    paper.place_elsewhere(cid("a", 3), price=50000)
    paper.place_elsewhere("someone-else", price=50000)

    requests, actions = paper_fills(paper).on_tick(paper.tick("49000"))

    events = [(r.client_order_id, r.reason) for r in requests if isinstance(r, RecordOrderEvent)]
    assert events[0] == (cid("a", 3), "acknowledged")
    assert {getattr(r, "grid_id", None) for r in requests} == {"a"}
    assert [u.status for u in updates(actions)] == [OrderStatus.CLOSED]


def test_a_tick_for_a_market_the_account_lacks_books_nothing() -> None:
    paper = PaperDesk()

    records = paper_fills(paper).on_tick(Tick(symbol="DOGE/USDT", timestamp=EPOCH, last=D(1)))

    assert records == ([], [])


async def test_a_live_account_has_no_paper_fills() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    live = PaperFills(paper.bench(), None)

    assert live.on_tick(paper.tick("49000")) == ([], [])
    assert live.replay_candles(SYMBOL, []) == (([], []), 0)
    assert live.rerecord_trades() == []
    assert len(paper.account.open_orders()) == 1  # the paper account never saw the tick


async def test_a_restart_records_again_every_trade_the_account_holds() -> None:
    paper = PaperDesk()
    await paper.desk.place(paper.place("a", 1, "50000"))
    paper_fills(paper).on_tick(paper.tick("49000"))

    again = paper_fills(paper).rerecord_trades()

    assert [(r.fill.client_order_id, r.fill.price) for r in again if isinstance(r, RecordFill)] == [
        (cid("a", 1), D(50000))
    ]
