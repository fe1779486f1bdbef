"""`gridsup.app` without processes: a grids file resolved into the run and the child
specs every actor is built from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from e2e_support import FAST_GRIDS, GridsEnv, grids_toml

from gridsup import app
from gridsup.actors.run_config import RUN_CONFIG_CODEC, Mode, RunConfig
from gridsup.commands import preflight
from gridsup.exchange.markets import PAPER_MARKETS, UnknownMarket, paper_market
from gridsup.runtime.endpoints import beat_topic
from gridsup.strategy.grid.config import GridConfig
from gridsup.supervisor.runner import BeatPlan
from gridsup.supervisor.spec import ChildSpec, Group
from helpers import run_config_of


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1s", 1000), ("1m", 60_000), ("15m", 900_000), ("4h", 14_400_000), ("1d", 86_400_000)],
)
def test_interval_ms(text: str, ms: int) -> None:
    assert app.interval_ms(text) == ms


@pytest.mark.parametrize("text", ["", "0m", "1y", "m", "1.5m"])
def test_interval_ms_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        app.interval_ms(text)


def test_the_paper_markets_carry_binances_filters() -> None:
    assert set(PAPER_MARKETS) == {"BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"}
    btc = paper_market("BTC/USDT")
    assert (btc.price_step, btc.amount_step, btc.min_notional) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("5"),
    )
    with pytest.raises(UnknownMarket, match="DOGE/USDT"):
        paper_market("DOGE/USDT")


# (grid changes, what the problem names; empty: no problem)
ORDER_CASES: list[tuple[dict[str, Any], str]] = [
    ({}, ""),
    ({"total_investment": 40}, "minimum notional 5 USDT"),
    ({"lower_price": 60000, "upper_price": "60000.05", "num_grids": 10}, "tick size 0.01"),
]


@pytest.mark.parametrize(("changes", "needle"), ORDER_CASES)
def test_order_problems(changes: dict[str, Any], needle: str) -> None:
    grid = GridConfig.model_validate({**FAST_GRIDS[0], **changes})

    problems = preflight.order_problems(grid, paper_market("BTC/USDT"))

    if needle:
        assert len(problems) == 1 and needle in problems[0]
    else:
        assert problems == []


def resolved(env: GridsEnv, exchange: dict[str, Any] | None = None, **options: Any) -> RunConfig:
    text = grids_toml(FAST_GRIDS, exchange=exchange, balances={"USDT": 10000})
    return run_config_of(env.write(text), **options)


def test_the_run_config_resolves_the_file_and_survives_the_wire(env: GridsEnv) -> None:
    run = resolved(env, tick_interval_ms=20, start_prices={"BTC/USDT": Decimal(60000)})

    assert run.mode is Mode.DRY_RUN and run.dry_run
    assert [g.name for g in run.grids] == ["btc-fast", "eth-fast", "sol-fast"]
    assert all(g.grid_id == g.name for g in run.grids)
    assert run.grids[0].budget_quote == Decimal(2000)
    assert set(run.markets) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    assert run.tick_interval_ms == 20 and run.candle_ms == 60_000
    assert run.rate_limit_per_s == app.PAPER_RATE_LIMIT
    assert run.start_prices == {"BTC/USDT": Decimal(60000)}
    assert run.paper_history == 1000
    assert resolved(env, {"id": "paper", "paper_history": 50}).paper_history == 50
    encoder, decoder = RUN_CONFIG_CODEC
    assert decoder.decode(encoder.encode(run)) == run
    again = GridConfig.model_validate(run.grids[2].config)
    assert again == app.load(env.tmp / "grids.toml").grids[2]


def test_child_specs_start_in_group_order_with_one_strategy_per_grid(env: GridsEnv) -> None:
    run = resolved(env)

    specs = app.child_specs(run)

    assert [(s.name, s.group) for s in specs] == [
        ("persistence", Group.PERSISTENCE),
        ("execution", Group.EXECUTION),
        ("market_data", Group.MARKET_DATA),
        ("grid-btc-fast", Group.STRATEGY),
        ("grid-eth-fast", Group.STRATEGY),
        ("grid-sol-fast", Group.STRATEGY),
    ]
    strategy = specs[3]
    assert strategy.target == "gridsup.actors.grid.actor:build"
    assert strategy.kwargs == {"grid_name": "btc-fast"}
    assert strategy.args == (app.strategy_run(run, run.grids[0]),)
    assert strategy.args[0].grids == run.grids[:1] and set(strategy.args[0].markets) == {"BTC/USDT"}
    assert strategy.effective_policy == app.STRATEGY_POLICY
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(run), type=RunConfig) == run


@pytest.mark.parametrize(
    ("grids", "interval", "supervisor_timeout"),
    [(1, 1.0, 10.0), (200, 1.0, 10.0), (500, 2.5, 10.0), (1000, 5.0, 20.0)],
)
def test_a_large_fleet_heartbeats_less_often(
    grids: int, interval: float, supervisor_timeout: float
) -> None:
    """The fleet's heartbeats stay within FLEET_HEARTBEATS_PER_S (an idle fleet's CPU is
    mostly heartbeats); an actor still waits four of its intervals for the supervisor,
    so the supervisor beats no more often than the interval."""
    policy = app.fleet_policy(app.STRATEGY_POLICY, grids)

    assert (policy.heartbeat_interval, policy.supervisor_timeout) == (interval, supervisor_timeout)
    assert policy.max_restarts == app.STRATEGY_POLICY.max_restarts
    spec = ChildSpec(name="g", kind="strategy", target="m:f", policy=policy)
    assert BeatPlan.of([spec]).periods == {beat_topic(interval): interval}


@pytest.mark.parametrize(
    ("grids", "kwargs"), [(100, {}), (300, {}), (1000, {"resync_idle_s": 100.0})]
)
def test_a_large_fleet_resyncs_idle_grids_less_often(grids: int, kwargs: dict[str, float]) -> None:
    assert app.fleet_strategy_kwargs(grids) == kwargs
