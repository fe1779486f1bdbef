"""The slot invariant and the base ledger hold after every event of random sequences:
price moves that fill orders, partial fills, external cancels, rejections, duplicate
reports, restarts from a snapshot, synchronous and queued delivery."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsup.messages.common import OrderType, Side
from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from helpers import BTC_USDT
from strategy.fakes import LOOSE, FakeExchange

D = Decimal

prices = st.integers(min_value=300, max_value=800).map(lambda n: D(n * 100))
ops = st.one_of(
    st.tuples(st.just("move"), prices),
    st.tuples(st.just("tick"), prices),
    st.tuples(st.just("partial"), st.integers(0, 50), st.integers(1, 9)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("reject_next")),
    st.tuples(st.just("dup")),
    st.tuples(st.just("restart")),
    st.tuples(st.just("deliver")),
)
configs = st.fixed_dictionaries(
    {
        "num_grids": st.integers(3, 12),
        "spacing": st.sampled_from(["arithmetic", "geometric"]),
        "initial_position": st.sampled_from(["buy", "none"]),
        "stop_loss_pct": st.sampled_from([None, "0.05", "0.2"]),
        "take_profit_pct": st.sampled_from([None, "0.05"]),
    }
)


def _config(extra: dict[str, Any]) -> GridConfig:
    return GridConfig.model_validate(
        {
            "name": "prop",
            "symbol": "BTC/USDT",
            "lower_price": "40000",
            "upper_price": "70000",
            "total_investment": "50000",
            **extra,
        }
    )


def _check(strategy: GridTradingStrategy, exchange: FakeExchange, settled: bool) -> None:
    assert strategy.slot_invariant_violations() == []
    assert strategy.base_held >= 0
    if settled:
        assert set(strategy.open_orders()) == set(exchange.open)
        bought = sum((f.amount for f in exchange.fills if f.side is Side.BUY), D(0))
        sold = sum((f.amount for f in exchange.fills if f.side is Side.SELL), D(0))
        base_fees = sum((f.fee for f in exchange.fills if f.fee_currency == "BTC"), D(0))
        assert strategy.base_held == bought - sold - base_fees


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    extra=configs,
    start=prices,
    events=st.lists(ops, max_size=40),
    sync=st.booleans(),
    fee_in_base=st.booleans(),
    market=st.sampled_from([BTC_USDT, LOOSE]),
)
def test_invariants_hold_after_every_event(
    extra: dict[str, Any],
    start: Decimal,
    events: list[tuple[Any, ...]],
    sync: bool,
    fee_in_base: bool,
    market: MarketInfo,
) -> None:
    config = _config(extra)
    strategy = GridTradingStrategy(config, "prop")
    exchange = FakeExchange(market=market, price=start, sync=sync, fee_in_base=fee_in_base)
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(start)
    exchange.deliver()
    _check(strategy, exchange, settled=True)
    for op in events:
        name = op[0]
        limits = sorted(c for c, i in exchange.open.items() if i.type is OrderType.LIMIT)
        if name == "move":
            exchange.move_to(op[1])
        elif name == "tick":
            exchange.tick(op[1])
        elif name == "partial" and limits:
            cid = limits[op[1] % len(limits)]
            left = exchange.open[cid].amount - exchange.filled[cid]
            part = (left * op[2] / 10).quantize(D("0.00001"), rounding=ROUND_DOWN)
            if part > 0:
                exchange.fill(cid, part)
        elif name == "cancel" and limits:
            exchange.cancel_external(limits[op[1] % len(limits)])
        elif name == "reject_next":
            exchange.reject_next = "insufficient funds"
        elif name == "dup" and exchange.fills:
            last = exchange.fills[-1]
            exchange._emit(lambda last=last: exchange._strategy.on_order_filled(last))  # type: ignore[misc]
        elif name == "restart":
            exchange.deliver()
            snapshot = strategy.get_state()
            strategy = GridTradingStrategy(config, "prop")
            strategy.from_state(snapshot)
            strategy.initialize(exchange)
            exchange.strategy = strategy
            assert strategy.get_state() == snapshot
        elif name == "deliver":
            exchange.deliver()
        _check(strategy, exchange, settled=sync)
    exchange.deliver()
    _check(strategy, exchange, settled=True)
    if strategy.stopped:
        assert all(i.type is OrderType.MARKET for i in exchange.open.values())
