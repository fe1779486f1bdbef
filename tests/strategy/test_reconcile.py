"""Reconciliation tables: a grid restarted from its saved state meets the exchange's word.

Each case saves a grid's state, lets "the exchange" move on while the grid is down, then
restarts a fresh strategy from the state and reconciles it with a hand-built snapshot.
The slot invariant must hold after every case.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.orders import OrderState
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.ids import make_client_order_id, parse_client_order_id
from gridsup.strategy.reconcile import (
    CancelPolicy,
    ReconciliationPlan,
    ReconciliationResult,
    Verdict,
    apply_reconciliation,
    plan_reconciliation,
    verdict,
)
from strategy.fakes import FakeExchange

D = Decimal
GRID = "btc"
SYMBOL = "BTC/USDT"


def make_config(**overrides: object) -> GridConfig:
    fields: dict[str, object] = {
        "name": GRID,
        "symbol": SYMBOL,
        "lower_price": "40000",
        "upper_price": "70000",
        "num_grids": 7,  # levels 40k, 45k, ..., 70k; slots 0..5
        "total_investment": "10000",
        "fee_rate": "0.001",
        "initial_position": "none",  # buys at 40k, 45k, 50k below 52k; slots 3..5 empty
    }
    fields.update(overrides)
    return GridConfig.model_validate(fields)


def running(price: str = "52000") -> GridTradingStrategy:
    return trading(price)[0]


def trading(price: str = "52000") -> tuple[GridTradingStrategy, FakeExchange]:
    strategy = GridTradingStrategy(make_config(), GRID)
    exchange = FakeExchange(price=D(price))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(price))
    return strategy, exchange


def restarted(before: GridTradingStrategy) -> tuple[GridTradingStrategy, FakeExchange]:
    """A new strategy from ``before``'s saved state, bound to a fresh context."""
    strategy = GridTradingStrategy(make_config(), GRID)
    strategy.from_state(before.get_state())
    exchange = FakeExchange(price=D("52000"))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    return strategy, exchange


def intents(strategy: GridTradingStrategy) -> dict[str, OrderIntent]:
    return strategy.tracked_orders()


def order_at(strategy: GridTradingStrategy, side: Side, price: str) -> OrderIntent:
    (intent,) = [i for i in intents(strategy).values() if i.side is side and i.price == D(price)]
    return intent


def fill_of(
    intent: OrderIntent, amount: Decimal | None = None, *, done: Decimal | None = None, n: int = 1
) -> FillReport:
    amount = intent.amount if amount is None else amount
    done = amount if done is None else done
    assert intent.price is not None
    return FillReport(
        client_order_id=intent.client_order_id,
        symbol=SYMBOL,
        side=intent.side,
        price=intent.price,
        amount=amount,
        fee=intent.price * amount * D("0.001"),
        fee_currency="USDT",
        trade_id=f"{intent.client_order_id}-t{n}",
        timestamp=1_700_000_000_000 + n,
        order_filled=done,
        order_closed=done == intent.amount,
    )


def state(
    intent: OrderIntent,
    status: OrderStatus = OrderStatus.OPEN,
    filled: Decimal = Decimal(0),
    fills: tuple[FillReport, ...] = (),
) -> OrderState:
    return OrderState(intent=intent, status=status, filled=filled, fills=fills)


def limit(cid: str, side: Side, price: str, amount: str = "0.01") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        symbol=SYMBOL,
        side=side,
        type=OrderType.LIMIT,
        amount=D(amount),
        price=D(price),
    )


def reconcile(
    strategy: GridTradingStrategy,
    snapshot: list[OrderState],
    policy: CancelPolicy = CancelPolicy.REPLACE,
) -> tuple[ReconciliationPlan, ReconciliationResult]:
    plan = plan_reconciliation(GRID, intents(strategy), snapshot)
    result = apply_reconciliation(strategy, plan, policy)
    assert strategy.slot_invariant_violations() == []
    return plan, result


def untouched(strategy: GridTradingStrategy) -> list[OrderState]:
    """The snapshot of an exchange where nothing happened: every tracked order open."""
    return [state(i) for i in intents(strategy).values()]


# ------------------------------------------------------------------------------ the plan

OURS = make_client_order_id(GRID, 1, Side.BUY, 1)
OURS_TOO = make_client_order_id(GRID, 2, Side.BUY, 1)
ORPHAN = make_client_order_id(GRID, 4, Side.SELL, 1)
OTHER_GRID = make_client_order_id("eth", 1, Side.BUY, 1)
MANUAL = "web_8f2a91"  # placed by hand on the exchange's website


@pytest.mark.parametrize(
    ("case", "snapshot", "expected"),
    [
        ("tracked and open", [(OURS, "open"), (OURS_TOO, "open")], {"open_tracked": 2}),
        ("tracked, filled", [(OURS, "closed"), (OURS_TOO, "open")], {"phantoms": 1}),
        ("tracked, cancelled", [(OURS, "canceled"), (OURS_TOO, "open")], {"phantoms": 1}),
        ("tracked, unknown", [(OURS, "open")], {"missing": 1}),
        (
            "ours, untracked, open",
            [(OURS, "open"), (OURS_TOO, "open"), (ORPHAN, "open")],
            {"orphans": 1},
        ),
        ("ours, untracked, done", [(OURS, "open"), (OURS_TOO, "open"), (ORPHAN, "closed")], {}),
        (
            "another grid's",
            [(OURS, "open"), (OURS_TOO, "open"), (OTHER_GRID, "open")],
            {"foreign": 1},
        ),
        ("not our prefix", [(OURS, "open"), (OURS_TOO, "open"), (MANUAL, "open")], {"foreign": 1}),
    ],
)
def test_the_plan_sorts_every_order_into_one_bucket(
    case: str, snapshot: list[tuple[str, str]], expected: dict[str, int]
) -> None:
    tracked = {OURS: limit(OURS, Side.BUY, "45000"), OURS_TOO: limit(OURS_TOO, Side.BUY, "50000")}
    orders = [state(limit(cid, Side.BUY, "45000"), OrderStatus(status)) for cid, status in snapshot]

    plan = plan_reconciliation(GRID, tracked, orders)

    sizes = {
        "open_tracked": len(plan.open_tracked),
        "orphans": len(plan.orphans),
        "phantoms": len(plan.phantoms),
        "missing": len(plan.missing),
        "foreign": len(plan.foreign),
    }
    expected_sizes = {name: expected.get(name, 0) for name in sizes}
    if "open_tracked" not in expected:
        expected_sizes["open_tracked"] = sum(
            1 for cid, status in snapshot if cid in tracked and status == "open"
        )
    assert sizes == expected_sizes, case


@pytest.mark.parametrize(
    ("statuses", "mismatches"),
    [
        ({"open": 2}, 0),
        ({"closed": 2}, 0),  # fills while down are the market moving, not a disagreement
        ({"canceled": 1, "open": 1}, 1),
        ({"rejected": 1, "expired": 1}, 2),
    ],
)
def test_mismatches_count_what_normal_trading_does_not_explain(
    statuses: dict[str, int], mismatches: int
) -> None:
    cids = [OURS, OURS_TOO]
    tracked = {cid: limit(cid, Side.BUY, "45000") for cid in cids}
    flat = [s for s, n in statuses.items() for _ in range(n)]
    orders = [state(tracked[cid], OrderStatus(s)) for cid, s in zip(cids, flat, strict=True)]
    orders.append(state(limit(ORPHAN, Side.SELL, "60000")))  # one orphan, always

    plan = plan_reconciliation(GRID, tracked, orders)

    assert plan.mismatches == mismatches + 1


@pytest.mark.parametrize(
    ("mismatches", "threshold", "abort", "expected"),
    [
        (0, 3, False, Verdict.PROCEED),
        (3, 3, True, Verdict.PROCEED),  # at the threshold: fine
        (4, 3, False, Verdict.ALERT),
        (4, 3, True, Verdict.ABORT),
        (1, 0, True, Verdict.ABORT),
    ],
)
def test_mismatches_above_the_threshold_alert_or_abort(
    mismatches: int, threshold: int, abort: bool, expected: Verdict
) -> None:
    assert verdict(mismatches, threshold, abort) is expected


# ------------------------------------------------------------------------------ applying


def test_a_grid_that_agrees_with_the_exchange_changes_nothing() -> None:
    strategy, exchange = restarted(running())
    before = strategy.get_state()

    _, result = reconcile(strategy, untouched(strategy))

    assert strategy.get_state() == before
    assert exchange.placed == [] and exchange.cancels == []
    assert result.mismatches == 0


def test_an_orphan_is_adopted_onto_its_slot() -> None:
    strategy, exchange = restarted(running())
    orphan = limit(make_client_order_id(GRID, 4, Side.SELL, 3), Side.SELL, "60000", "0.002")

    _, result = reconcile(strategy, [*untouched(strategy), state(orphan)])

    assert result.orphans == (orphan.client_order_id,)
    assert strategy.open_orders()[orphan.client_order_id] == (4, Side.SELL, D("0.002"), D(60000))
    assert exchange.placed == []
    # The slot's next order must not reuse the adopted order's id (cycle 3).
    strategy.on_order_filled(fill_of(orphan))
    (rebuy,) = exchange.placed
    parsed = parse_client_order_id(rebuy.client_order_id)
    assert parsed is not None and parsed.level == 3 and parsed.cycle == 4
    assert strategy.completed_cycles == 1


def test_an_orphan_whose_slot_is_taken_is_left_alone_and_counted() -> None:
    strategy, exchange = restarted(running())
    buy = order_at(strategy, Side.BUY, "45000")  # slot 1
    duplicate = limit(make_client_order_id(GRID, 2, Side.SELL, 7), Side.SELL, "50000")

    plan, result = reconcile(strategy, [*untouched(strategy), state(duplicate)])

    assert result.unadopted == (duplicate.client_order_id,)
    assert result.mismatches == plan.mismatches + 1
    assert buy.client_order_id in strategy.open_orders()
    assert duplicate.client_order_id not in strategy.open_orders()
    assert exchange.placed == [] and exchange.cancels == []


def test_a_buy_filled_while_down_gets_its_counter_sell() -> None:
    strategy, exchange = restarted(running())
    buy = order_at(strategy, Side.BUY, "50000")
    others = [s for s in untouched(strategy) if s.intent != buy]

    _, result = reconcile(
        strategy, [*others, state(buy, OrderStatus.CLOSED, buy.amount, (fill_of(buy),))]
    )

    assert result.phantoms_filled == (buy.client_order_id,)
    (sell,) = exchange.placed
    assert (sell.side, sell.price, sell.amount) == (Side.SELL, D(55000), buy.amount)
    assert strategy.base_held == buy.amount


def test_a_sell_filled_while_down_books_its_profit_and_rebuys() -> None:
    grid, live = trading()
    live.move_to(D("49000"))  # the 50k buy fills; its 55k sell goes up
    sell = order_at(grid, Side.SELL, "55000")
    strategy, exchange = restarted(grid)
    others = [s for s in untouched(strategy) if s.intent != sell]
    fill = fill_of(sell)

    _, result = reconcile(
        strategy, [*others, state(sell, OrderStatus.CLOSED, sell.amount, (fill,))]
    )

    assert result.phantoms_filled == (sell.client_order_id,)
    assert strategy.completed_cycles == 1
    assert strategy.realized_profit > 0
    (rebuy,) = exchange.placed
    assert (rebuy.side, rebuy.price) == (Side.BUY, D(50000))
    # At-least-once delivery: the same fill again (live, or a second resync) books nothing.
    profit = strategy.realized_profit
    strategy.on_order_filled(fill)
    reconcile(strategy, [*others, state(sell, OrderStatus.CLOSED, sell.amount, (fill,))])
    assert (strategy.realized_profit, strategy.completed_cycles) == (profit, 1)
    assert len(exchange.placed) == 1


def test_fills_reported_twice_and_out_of_order_are_counted_once() -> None:
    strategy, exchange = restarted(running())
    buy = order_at(strategy, Side.BUY, "50000")
    half = buy.amount / 2
    first, second = fill_of(buy, half, n=1), fill_of(buy, half, done=buy.amount, n=2)
    others = [s for s in untouched(strategy) if s.intent != buy]

    reconcile(
        strategy,
        [*others, state(buy, OrderStatus.CLOSED, buy.amount, (second, first, first, second))],
    )

    assert strategy.base_held == buy.amount
    assert len(exchange.placed) == 1


@pytest.mark.parametrize(
    ("policy", "replaced"),
    [(CancelPolicy.REPLACE, True), (CancelPolicy.DROP, False)],
)
def test_a_cancel_while_down_is_replaced_or_dropped_per_policy(
    policy: CancelPolicy, replaced: bool
) -> None:
    strategy, exchange = restarted(running())
    buy = order_at(strategy, Side.BUY, "45000")
    others = [s for s in untouched(strategy) if s.intent != buy]

    _, result = reconcile(strategy, [*others, state(buy, OrderStatus.CANCELED)], policy)

    assert result.phantoms_cancelled == (buy.client_order_id,)
    assert buy.client_order_id not in strategy.open_orders()
    if replaced:
        (again,) = exchange.placed
        assert (again.side, again.price, again.amount) == (Side.BUY, D(45000), buy.amount)
        assert again.client_order_id != buy.client_order_id  # a new cycle, a new id
        assert result.replaced == (buy.client_order_id,)
    else:
        assert exchange.placed == []
        assert result.dropped == (buy.client_order_id,)
        (skipped,) = strategy.skipped_levels
        assert skipped.slot == 1 and "drop" in skipped.reason


def test_a_partly_filled_cancel_gets_a_counter_order_even_when_dropped() -> None:
    strategy, exchange = restarted(running())
    buy = order_at(strategy, Side.BUY, "50000")
    part = fill_of(buy, (buy.amount / 4).quantize(D("0.00001")))  # on the lot size
    others = [s for s in untouched(strategy) if s.intent != buy]

    reconcile(
        strategy,
        [*others, state(buy, OrderStatus.CANCELED, part.amount, (part,))],
        CancelPolicy.DROP,
    )

    (sell,) = exchange.placed
    assert (sell.side, sell.price, sell.amount) == (Side.SELL, D(55000), part.amount)


def test_a_tracked_order_the_exchange_never_saw_is_sent_again_with_its_id() -> None:
    strategy, exchange = restarted(running())
    buy = order_at(strategy, Side.BUY, "40000")
    others = [s for s in untouched(strategy) if s.intent != buy]

    plan, result = reconcile(strategy, others)

    assert result.resent == (buy,)
    assert plan.mismatches == 1
    assert buy.client_order_id in strategy.open_orders()
    assert exchange.placed == []  # the actor sends ``resent``; the strategy places nothing


def test_a_saved_but_unsent_order_is_sent_again_and_is_no_mismatch() -> None:
    """The actor saves before it sends: a crash in between leaves a tracked order the
    exchange never saw, which the saved state names as unsent (issue 17)."""
    strategy, _ = restarted(running())
    buy = order_at(strategy, Side.BUY, "40000")
    sent_before = order_at(strategy, Side.BUY, "45000")
    others = [s for s in untouched(strategy) if s.intent not in (buy, sent_before)]

    plan = plan_reconciliation(
        strategy.grid_id, strategy.tracked_orders(), others, {buy.client_order_id}
    )
    result = apply_reconciliation(strategy, plan)

    assert plan.unsent == (buy,) and plan.missing == (sent_before,)
    assert plan.mismatches == 1  # only the one a former commit had sent
    assert set(result.resent) == {buy, sent_before}
    assert result.unsent == (buy.client_order_id,)
    assert result.status()["recon_unsent"] == 1


def test_foreign_orders_are_reported_and_never_touched() -> None:
    strategy, exchange = restarted(running())
    manual = limit(MANUAL, Side.BUY, "30000")
    theirs = limit(OTHER_GRID, Side.BUY, "45000")
    before = strategy.get_state()

    _, result = reconcile(strategy, [*untouched(strategy), state(manual), state(theirs)])

    assert result.foreign == (MANUAL, OTHER_GRID)
    assert result.mismatches == 0
    assert strategy.get_state() == before
    assert exchange.placed == [] and exchange.cancels == []


def test_an_orphan_recreated_by_a_phantoms_counter_order_is_the_same_order() -> None:
    """The crashed run saw the 50k buy fill and placed its 55k sell, but died before
    saving: the restart's counter order carries exactly that sell's id."""
    before = running()
    buy = order_at(before, Side.BUY, "50000")
    slot_cycle = before.get_state()["slot_cycle"][2]
    sell_id = make_client_order_id(GRID, 3, Side.SELL, slot_cycle + 1)
    orphan = limit(sell_id, Side.SELL, "55000", str(buy.amount))
    strategy, exchange = restarted(before)
    others = [s for s in untouched(strategy) if s.intent != buy]

    _, result = reconcile(
        strategy,
        [*others, state(buy, OrderStatus.CLOSED, buy.amount, (fill_of(buy),)), state(orphan)],
    )

    (sell,) = exchange.placed
    assert sell.client_order_id == sell_id  # the execution actor acks it, no second order
    assert result.orphans == (sell_id,)
    assert result.unadopted == ()


def test_the_status_lists_counts_and_the_first_ids() -> None:
    strategy, _ = restarted(running())
    buy = order_at(strategy, Side.BUY, "45000")
    others = [s for s in untouched(strategy) if s.intent != buy]

    _, result = reconcile(strategy, [*others, state(buy, OrderStatus.CANCELED)])

    status = result.status()
    assert status["recon_phantoms_cancelled"] == 1
    assert status["recon_phantoms_cancelled_ids"] == buy.client_order_id
    assert status["recon_orphans"] == 0 and "recon_orphans_ids" not in status
    assert status["recon_mismatches"] == 1
