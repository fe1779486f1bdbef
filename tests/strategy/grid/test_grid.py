"""GridTradingStrategy behaviour, scenario by scenario, against the FakeExchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gridsup.messages.alerts import AlertKind
from gridsup.messages.common import OrderType, Side
from gridsup.strategy.grid import GridTradingStrategy, Phase, StopReason
from gridsup.strategy.grid.config import GridConfig, InitialPosition
from gridsup.strategy.ids import MARKET_LEVEL, parse_client_order_id
from strategy.fakes import LOOSE, FakeExchange

D = Decimal


def make_config(**overrides: object) -> GridConfig:
    fields: dict[str, object] = {
        "name": "btc",
        "symbol": "BTC/USDT",
        "lower_price": "40000",
        "upper_price": "70000",
        "num_grids": 7,  # levels 40k, 45k, ..., 70k
        "total_investment": "10000",
        "fee_rate": "0.001",
    }
    fields.update(overrides)
    return GridConfig.model_validate(fields)


def start(
    price: str = "52000", sync: bool = True, **overrides: object
) -> tuple[GridTradingStrategy, FakeExchange]:
    strategy = GridTradingStrategy(make_config(**overrides), "btc")
    exchange = FakeExchange(price=D(price), sync=sync)
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(price))
    exchange.deliver()
    return strategy, exchange


def test_nothing_is_placed_before_the_first_price() -> None:
    strategy = GridTradingStrategy(make_config(), "btc")
    exchange = FakeExchange()
    exchange.strategy = strategy
    strategy.initialize(exchange)

    assert exchange.placed == []
    assert strategy.tick_band() is None
    assert strategy.phase is Phase.WAITING_PRICE


def test_initial_buy_mode_leaves_the_level_above_the_price_empty() -> None:
    strategy, exchange = start("52000")

    market = [i for i in exchange.placed if i.type is OrderType.MARKET]
    assert len(market) == 1 and market[0].side is Side.BUY and market[0].price is None
    # slots 3, 4, 5 sit above 52000: their base is bought at market ...
    assert market[0].amount == sum(strategy.order_amounts[3:])
    book = exchange.open_by_level()
    assert {(s, p) for s, p in book} == {
        (Side.BUY, D(40000)),
        (Side.BUY, D(45000)),
        (Side.BUY, D(50000)),
        # ... and sold one level up; 55000, the level nearest above, stays empty
        (Side.SELL, D(60000)),
        (Side.SELL, D(65000)),
        (Side.SELL, D(70000)),
    }
    assert strategy.phase is Phase.RUNNING
    assert strategy.slot_invariant_violations() == []


def test_sells_wait_for_the_initial_market_buy_to_fill() -> None:
    _, exchange = start("52000", sync=False)

    # the deferred market fill has been delivered by start(); replay without it:
    strategy2 = GridTradingStrategy(make_config(), "btc")
    exchange2 = FakeExchange(price=D(52000), sync=False)
    exchange2.strategy = strategy2
    strategy2.initialize(exchange2)
    exchange2.tick(D(52000))
    exchange2.queue.popleft()()  # the tick only

    assert strategy2.phase is Phase.ENTERING
    assert {i.side for i in exchange2.placed if i.type is OrderType.LIMIT} == {Side.BUY}
    exchange2.deliver()  # the market buy fills
    assert {i.price for i in exchange2.open.values() if i.side is Side.SELL} == {
        D(60000),
        D(65000),
        D(70000),
    }
    assert strategy2.slot_invariant_violations() == []
    assert exchange.open_by_level() == exchange2.open_by_level()


def test_initial_position_none_places_the_buys_only() -> None:
    strategy, exchange = start("52000", initial_position="none")

    assert all(i.side is Side.BUY and i.type is OrderType.LIMIT for i in exchange.placed)
    assert sorted(i.price for i in exchange.placed) == [D(40000), D(45000), D(50000)]  # type: ignore[type-var]
    assert strategy.config.initial_position is InitialPosition.NONE


def test_a_price_on_a_level_leaves_that_level_empty() -> None:
    _, exchange = start("55000")

    prices = {i.price for i in exchange.open.values()}
    assert D(55000) not in prices
    assert prices == {D(40000), D(45000), D(50000), D(60000), D(65000), D(70000)}


def test_buy_fill_places_the_sell_above_and_the_sell_fill_books_profit() -> None:
    strategy, exchange = start("52000")
    buy_cid = next(c for c, i in exchange.open.items() if i.price == D(50000))
    amount = exchange.open[buy_cid].amount

    exchange.move_to(D(49900))  # the buy at 50000 fills
    sell = next(i for i in exchange.open.values() if i.price == D(55000))
    assert sell.side is Side.SELL and sell.amount == amount

    exchange.move_to(D(55100))  # the sell at 55000 fills
    cost = D(50000) * amount * D("1.001")
    proceeds = D(55000) * amount * D("0.999")
    assert strategy.realized_profit == proceeds - cost
    assert strategy.completed_cycles == 1
    assert strategy.fees_paid > 0
    rebuy = [i for i in exchange.open.values() if i.price == D(50000)]
    assert len(rebuy) == 1 and rebuy[0].side is Side.BUY and rebuy[0].amount == amount
    assert strategy.slot_invariant_violations() == []


def test_an_untradable_partial_fill_waits_and_a_tradable_one_is_cut() -> None:
    strategy, exchange = start("52000")
    buy_cid = next(c for c, i in exchange.open.items() if i.price == D(50000))
    amount = exchange.open[buy_cid].amount

    exchange.fill(buy_cid, D("0.00005"))  # 0.00005 * 55000 = 2.75 < the 5 USDT minimum
    assert not any(i.price == D(55000) for i in exchange.open.values())  # no counter yet
    assert exchange.cancels == []
    exchange.fill(buy_cid, D("0.01495"))  # 0.015 bought: a sellable part

    assert exchange.cancels == [buy_cid]  # the rest is cut ...
    sells = [i for i in exchange.open.values() if i.price == D(55000)]
    assert len(sells) == 1 and sells[0].amount == D("0.015") < amount  # ... and sold now
    assert strategy.slot_invariant_violations() == []


def test_a_cancel_without_fills_is_replaced_with_a_new_id() -> None:
    _, exchange = start("52000")
    cid = next(c for c, i in exchange.open.items() if i.price == D(45000))

    exchange.cancel_external(cid)

    again = [c for c, i in exchange.open.items() if i.price == D(45000)]
    assert len(again) == 1 and again[0] != cid
    first, second = parse_client_order_id(cid), parse_client_order_id(again[0])
    assert first is not None and second is not None
    assert (second.level, second.side, second.cycle) == (first.level, first.side, first.cycle + 1)


def test_duplicate_fill_reports_are_counted_once() -> None:
    strategy, exchange = start("52000")
    exchange.move_to(D(49900))
    before = strategy.get_state()

    strategy.on_order_filled(exchange.fills[-1])  # at-least-once delivery repeats it

    assert strategy.get_state() == before


def test_fee_in_base_sells_what_was_received() -> None:
    strategy = GridTradingStrategy(make_config(initial_position="none"), "btc")
    exchange = FakeExchange(price=D(52000), fee_in_base=True)
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(52000))
    amount = next(i.amount for i in exchange.open.values() if i.price == D(50000))

    exchange.move_to(D(49900))

    sell = next(i for i in exchange.open.values() if i.side is Side.SELL)
    assert sell.amount == (amount * D("0.999")).quantize(D("0.00001"), rounding="ROUND_DOWN")
    assert strategy.base_held == amount * D("0.999")


@pytest.mark.parametrize(
    ("move", "reason"),
    [(D(35000), StopReason.STOP_LOSS), (D(80000), StopReason.TAKE_PROFIT)],
)
def test_stop_cancels_everything_sells_the_base_and_stays_stopped(
    move: Decimal, reason: StopReason
) -> None:
    strategy, exchange = start("52000", stop_loss_pct="0.1", take_profit_pct="0.1")
    held = strategy.base_held
    assert held > 0

    exchange.tick(move)

    assert strategy.stop_reason is reason
    assert strategy.phase is Phase.STOPPED and strategy.stopped
    assert exchange.open == {}
    exit_sell = exchange.placed[-1]
    assert exit_sell.type is OrderType.MARKET and exit_sell.side is Side.SELL
    assert exit_sell.amount == held
    assert strategy.base_held == 0 and strategy.exit_proceeds > 0
    placed = len(exchange.placed)
    exchange.move_to(D(52000))  # back in range: a stopped grid stays stopped
    assert len(exchange.placed) == placed
    assert strategy.tick_band() == (float("-inf"), float("inf"))

    restored = GridTradingStrategy(make_config(stop_loss_pct="0.1", take_profit_pct="0.1"), "btc")
    restored.from_state(strategy.get_state())
    assert restored.stopped and restored.stop_reason is reason


def test_stop_with_asynchronous_cancels_waits_for_them_before_selling() -> None:
    strategy, exchange = start("52000", sync=False, stop_loss_pct="0.1")

    exchange.tick(D(35000))
    exchange.queue.popleft()()  # only the tick: cancels requested, none confirmed
    assert strategy.phase is Phase.STOPPING
    assert not any(i.type is OrderType.MARKET and i.side is Side.SELL for i in exchange.placed)
    exchange.deliver()

    assert strategy.phase is Phase.STOPPED
    assert exchange.placed[-1].side is Side.SELL and exchange.placed[-1].type is OrderType.MARKET


def test_first_price_beyond_the_stop_never_opens_the_grid() -> None:
    strategy, exchange = start("30000", stop_loss_pct="0.1")

    assert exchange.placed == []
    assert strategy.phase is Phase.STOPPED and strategy.stop_reason is StopReason.STOP_LOSS


def test_rejections_are_recorded_as_skipped_levels() -> None:
    strategy, exchange = start("52000")
    exchange.reject_next = "insufficient funds"
    buy_cid = next(c for c, i in exchange.open.items() if i.price == D(50000))

    exchange.fill(buy_cid, exchange.open[buy_cid].amount)  # its counter sell is refused

    (skipped,) = strategy.skipped_levels
    assert (skipped.slot, skipped.level, skipped.side) == (2, 3, Side.SELL)
    assert skipped.reason == "insufficient funds"
    assert strategy.slot_invariant_violations() == []
    (alert,) = strategy.drain_alerts()  # a permanent refusal raises an alert
    assert (alert.kind, alert.slot, alert.grid) == (AlertKind.LEVEL_REFUSED, 2, "btc")
    assert "insufficient funds" in alert.reason
    assert strategy.drain_alerts() == []


def test_orders_below_the_minimum_notional_are_skipped_before_sending() -> None:
    strategy = GridTradingStrategy(make_config(total_investment="20"), "btc")  # 2.67 per slot
    exchange = FakeExchange(price=D(52000))
    exchange.strategy = strategy
    strategy.initialize(exchange)

    exchange.tick(D(52000))

    assert exchange.placed == []
    assert len(strategy.skipped_levels) == 6
    assert all("minimum" in s.reason for s in strategy.skipped_levels)


def test_market_entry_refusal_skips_the_slots_above() -> None:
    strategy = GridTradingStrategy(make_config(), "btc")
    exchange = FakeExchange(price=D(52000))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    original = exchange.place_order

    def refuse_market(intent):  # type: ignore[no-untyped-def]
        if intent.type is OrderType.MARKET:
            exchange.reject_next = "insufficient funds"
        original(intent)

    exchange.place_order = refuse_market  # type: ignore[method-assign]
    exchange.tick(D(52000))

    assert strategy.phase is Phase.RUNNING
    assert [(s.slot, s.level) for s in strategy.skipped_levels] == [(3, 4), (4, 5), (5, 6)]
    assert strategy.slot_invariant_violations() == []


def test_tick_band_is_the_stop_range_once_running() -> None:
    strategy, _ = start("52000", stop_loss_pct="0.1", take_profit_pct="0.05")
    assert strategy.tick_band() == (36000.0, 73500.0)

    loose, _ = start("52000")
    assert loose.tick_band() == (float("-inf"), float("inf"))


def test_levels_follow_the_market_tick_size() -> None:
    strategy = GridTradingStrategy(make_config(spacing="geometric"), "btc")
    exchange = FakeExchange(price=D(52000))
    exchange.strategy = strategy
    strategy.initialize(exchange)

    assert all(p == p.quantize(D("0.01")) for p in strategy.levels)
    assert all(a == a.quantize(D("0.00001")) for a in strategy.order_amounts)


def test_market_order_ids_use_the_market_level() -> None:
    _, exchange = start("52000", stop_loss_pct="0.1")
    exchange.tick(D(30000))

    market_ids = [parse_client_order_id(i.client_order_id) for i in exchange.placed]
    kinds = [(p.level, p.side) for p in market_ids if p is not None and p.is_market]
    assert kinds == [(MARKET_LEVEL, Side.BUY), (MARKET_LEVEL, Side.SELL)]


def test_without_market_limits_everything_is_still_placed() -> None:
    strategy = GridTradingStrategy(make_config(num_grids=20), "btc")
    exchange = FakeExchange(market=LOOSE, price=D(52000))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(52000))

    assert len(exchange.open) == 19  # one order per slot; one level (the 11th) empty
    assert strategy.slot_invariant_violations() == []
