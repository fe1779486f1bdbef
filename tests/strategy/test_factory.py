"""Protocol compliance and the strategy registry (built-ins, entry points, errors)."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gridsup.messages.common import FillReport
from gridsup.messages.market import Tick
from gridsup.strategy.base import StrategyConfig
from gridsup.strategy.factory import (
    StrategyFactory,
    StrategyLoadError,
    UnknownStrategyError,
)
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.protocols import ExecutionContext, Strategy
from strategy.fakes import FakeExchange

GRID = {
    "name": "btc",
    "symbol": "BTC/USDT",
    "lower_price": "40000",
    "upper_price": "70000",
    "total_investment": "1000",
}


class RecordingStrategy:
    """A test double: remembers every call, trades nothing."""

    config_type = StrategyConfig

    def __init__(self, config: StrategyConfig, grid_id: str) -> None:
        self.name = config.name
        self.grid_id = grid_id
        self.calls: list[str] = []

    def initialize(self, ctx: ExecutionContext) -> None:
        self.calls.append("initialize")

    def on_tick(self, tick: Tick) -> None:
        self.calls.append("tick")

    def on_order_filled(self, fill: FillReport) -> None:
        self.calls.append("filled")

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        self.calls.append("cancelled")

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        self.calls.append("rejected")

    def get_state(self) -> dict[str, Any]:
        return {"version": 1, "calls": list(self.calls)}

    def from_state(self, state: Mapping[str, Any]) -> None:
        self.calls = list(state["calls"])

    def shutdown(self) -> None:
        self.calls.append("shutdown")


@pytest.mark.parametrize(
    "strategy",
    [
        GridTradingStrategy(GridConfig.model_validate(GRID), "btc"),
        RecordingStrategy(StrategyConfig(name="rec", symbol="BTC/USDT"), "rec"),
    ],
)
def test_strategies_satisfy_the_protocol(strategy: object) -> None:
    assert isinstance(strategy, Strategy)


def test_the_fake_exchange_satisfies_the_context_protocol() -> None:
    assert isinstance(FakeExchange(), ExecutionContext)


def test_grid_is_built_in() -> None:
    factory = StrategyFactory(load_entry_points=False)

    strategy = factory.create("grid", GRID)

    assert isinstance(strategy, GridTradingStrategy)
    assert strategy.name == "btc" and strategy.grid_id == "btc"


def test_unknown_names_list_the_known_ones() -> None:
    factory = StrategyFactory(load_entry_points=False)
    factory.register("recording", RecordingStrategy)  # type: ignore[arg-type]

    with pytest.raises(
        UnknownStrategyError, match=r"'martingale'.*known strategies: grid, recording"
    ):
        factory.create("martingale", GRID)


def test_a_registered_class_is_created_with_its_config_type() -> None:
    factory = StrategyFactory(load_entry_points=False)
    factory.register("recording", RecordingStrategy)  # type: ignore[arg-type]

    strategy = factory.create("recording", {"name": "r1", "symbol": "ETH/USDT"}, grid_id="r1")

    assert isinstance(strategy, RecordingStrategy) and strategy.grid_id == "r1"


def test_invalid_config_mappings_raise_validation_errors() -> None:
    with pytest.raises(ValidationError):
        StrategyFactory(load_entry_points=False).create("grid", {**GRID, "num_grids": 1})


def test_a_config_of_another_kind_is_refused() -> None:
    factory = StrategyFactory(load_entry_points=False)
    with pytest.raises(TypeError, match="needs a GridConfig"):
        factory.create("grid", StrategyConfig(name="x", symbol="BTC/USDT"))


def test_broken_targets_raise_a_load_error() -> None:
    factory = StrategyFactory(load_entry_points=False)
    factory.register("missing", "gridsup.no_such_module:Thing")
    factory.register("plain", "collections:OrderedDict")

    with pytest.raises(StrategyLoadError, match="cannot be loaded"):
        factory.get("missing")
    with pytest.raises(StrategyLoadError, match="config_type"):
        factory.get("plain")


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[str]:
    """A real third-party distribution on sys.path declaring a gridsup.strategies entry point."""
    package = tmp_path / "gridsup_plugin_demo"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from gridsup.strategy.base import StrategyConfig

            class HoldStrategy:
                config_type = StrategyConfig

                def __init__(self, config, grid_id):
                    self.name = config.name
                    self.grid_id = grid_id

                def initialize(self, ctx): pass
                def on_tick(self, tick): pass
                def on_order_filled(self, fill): pass
                def on_order_cancelled(self, client_order_id, filled): pass
                def on_order_rejected(self, client_order_id, reason): pass
                def get_state(self): return {"version": 1}
                def from_state(self, state): pass
                def shutdown(self): pass
            """
        )
    )
    info = tmp_path / "gridsup_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gridsup-plugin-demo\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[gridsup.strategies]\nhold = gridsup_plugin_demo:HoldStrategy\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield "hold"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gridsup_plugin_demo", None)


def test_third_party_strategies_register_through_the_entry_point(installed_plugin: str) -> None:
    factory = StrategyFactory()

    strategy = factory.create(installed_plugin, {"name": "h", "symbol": "SOL/USDT"})

    assert "hold" in factory.kinds and "grid" in factory.kinds
    assert isinstance(strategy, Strategy)
    assert type(strategy).__module__ == "gridsup_plugin_demo"


DOCS = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"


def test_the_documented_custom_strategy_works() -> None:
    text = DOCS.read_text()
    start = text.index("# mypkg/hold.py")
    source = text[start : text.index("```", start)]
    module = types.ModuleType("mypkg_hold")
    sys.modules["mypkg_hold"] = module  # pydantic resolves annotations through it
    try:
        exec(compile(source, str(DOCS), "exec"), module.__dict__)
    finally:
        del sys.modules["mypkg_hold"]
    factory = StrategyFactory(load_entry_points=False)
    factory.register("hold", module.BuyAndHold)

    strategy = factory.create("hold", {"name": "h", "symbol": "BTC/USDT", "amount": "0.01"})
    exchange = FakeExchange(price=Decimal(50000))
    exchange.strategy = strategy
    strategy.initialize(exchange)
    exchange.reject_next = "insufficient funds"
    exchange.tick(Decimal(50000))
    exchange.tick(Decimal(50100))

    assert isinstance(strategy, Strategy)
    assert [i.amount for i in exchange.placed] == [Decimal("0.01"), Decimal("0.01")]
    assert exchange.open == {}  # the second one filled at market
    assert strategy.get_state() == {"version": 1, "bought": True, "attempts": 2}
