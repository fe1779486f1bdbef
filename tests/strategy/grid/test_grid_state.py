"""Snapshots: identical round trips, identical behaviour after a restore, migrations."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from gridsup.messages.common import Side
from gridsup.strategy.grid import GridTradingStrategy, Phase
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.grid.state import STATE_VERSION, StateError, migrate_state
from strategy.fakes import FakeExchange

D = Decimal
CONFIG = GridConfig.model_validate(
    {
        "name": "eth",
        "symbol": "BTC/USDT",
        "lower_price": "40000",
        "upper_price": "70000",
        "num_grids": 9,
        "total_investment": "20000",
        "stop_loss_pct": "0.1",
    }
)


def running() -> tuple[GridTradingStrategy, FakeExchange]:
    strategy = GridTradingStrategy(CONFIG, "eth")
    exchange = FakeExchange(price=D(52000))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.tick(D(52000))
    exchange.move_to(D(47000))
    exchange.move_to(D(56000))
    some_buy = next(c for c, i in exchange.open.items() if i.side is Side.BUY)
    exchange.fill(some_buy, D("0.001"))  # a partial fill in flight
    exchange.reject_next = "insufficient funds"
    exchange.move_to(D(44000))
    return strategy, exchange


def test_round_trip_is_identical_and_json_able() -> None:
    strategy, _ = running()
    snapshot = strategy.get_state()

    restored = GridTradingStrategy(CONFIG, "eth")
    restored.from_state(json.loads(json.dumps(snapshot)))

    assert snapshot["version"] == STATE_VERSION
    assert restored.get_state() == snapshot
    assert restored.skipped_levels == strategy.skipped_levels
    assert restored.open_orders() == strategy.open_orders()
    assert restored.completed_cycles == strategy.completed_cycles > 0


def test_a_restored_strategy_behaves_like_the_original() -> None:
    original, exchange_a = running()
    copy = GridTradingStrategy(CONFIG, "eth")
    copy.from_state(original.get_state())
    exchange_b = FakeExchange(price=exchange_a.price)
    exchange_b.open = dict(exchange_a.open)
    exchange_b.filled = dict(exchange_a.filled)
    exchange_b.seen_ids = set(exchange_a.seen_ids)
    exchange_b.now = exchange_a.now
    exchange_b.strategy = copy
    copy.initialize(exchange_b)
    start_a, start_b = len(exchange_a.placed), len(exchange_b.placed)

    for price in (D(58000), D(43000), D(61000), D(35000)):
        exchange_a.move_to(price)
        exchange_b.move_to(price)

    assert exchange_a.placed[start_a:] == exchange_b.placed[start_b:]
    assert original.get_state() == copy.get_state()
    assert copy.phase is Phase.STOPPED


def test_version_zero_snapshots_are_migrated() -> None:
    strategy, _ = running()
    old: dict[str, Any] = strategy.get_state()
    for key in ("phase", "stop_reason", "skipped", "other_fees", "exit_proceeds"):
        old.pop(key)
    old["version"] = 0
    old["stopped"] = True

    restored = GridTradingStrategy(CONFIG, "eth")
    restored.from_state(old)

    assert restored.phase is Phase.STOPPED and restored.skipped_levels == ()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"version": STATE_VERSION + 1}, "newer"),
        ({}, "no integer version"),
        ({"version": "1"}, "no integer version"),
    ],
)
def test_unusable_versions_are_refused(state: dict[str, Any], message: str) -> None:
    with pytest.raises(StateError, match=message):
        migrate_state(state)


def test_a_missing_migration_is_refused() -> None:
    with pytest.raises(StateError, match="no migration from state version 1"):
        migrate_state({"version": 1}, migrations={}, current=2)


def test_another_grids_state_is_refused() -> None:
    strategy, _ = running()
    with pytest.raises(StateError, match="state of grid 'eth'"):
        GridTradingStrategy(CONFIG, "other").from_state(strategy.get_state())


def test_a_corrupt_state_is_refused() -> None:
    strategy, _ = running()
    state = strategy.get_state()
    state["base_held"] = "lots"
    with pytest.raises(StateError, match="corrupt"):
        GridTradingStrategy(CONFIG, "eth").from_state(state)


def test_a_changed_config_keeps_the_saved_levels(caplog: pytest.LogCaptureFixture) -> None:
    strategy, exchange = running()
    wider = CONFIG.model_copy(update={"upper_price": D(80000)})
    restored = GridTradingStrategy(wider, "eth")
    restored.from_state(strategy.get_state())

    with caplog.at_level("WARNING", logger="gridsup.strategy.grid"):
        restored.initialize(exchange)

    assert restored.levels == strategy.levels
    assert any("grid_config_changed" in r.getMessage() for r in caplog.records)
