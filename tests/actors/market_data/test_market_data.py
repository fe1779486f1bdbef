"""The market-data actor: seeded synthetic walks (the same seed, the same prices), replayed
candles in path order, ticks on the right topics from a real process, staleness in its
status (per symbol too: `gridsup status` shows it for grids that do not listen to ticks)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
import zmq
from trading_support import ActorHost, Subscriber, make_run, sqlite_url

from gridsup.actors.market_data.actor import (
    FeedSource,
    MarketDataError,
    build_source,
    run_symbols,
    start_price,
    symbol_seed,
)
from gridsup.actors.run_config import MARKET, GridSpec, RunConfig, topic
from gridsup.commands.control import grid_rows
from gridsup.exchange.candles import replay_path, save_candles
from gridsup.messages.control import ActorStatus, StatusReply, StatusValue
from gridsup.messages.market import MARKET_CODEC, Tick
from helpers import eventually

D = Decimal
TARGET = "gridsup.actors.market_data.actor:build"
T0 = 1_704_067_200_000  # 2024-01-01 in ms


def grid(name: str, symbol: str, lower: str, upper: str) -> GridSpec:
    return GridSpec(
        name=name,
        grid_id=name,
        symbol=symbol,
        config={"lower_price": lower, "upper_price": upper},
        budget_quote=D("1000"),
    )


def run_of(base: RunConfig, **fields: Any) -> RunConfig:
    grids = (
        grid("btc", "BTC/USDT", "59000", "61000"),
        grid("eth", "ETH/USDT", "2900", "3100"),
        grid("btc-wide", "BTC/USDT", "40000", "80000"),  # same symbol: one feed
    )
    return msgspec.structs.replace(base, grids=grids, **fields)


@pytest.fixture
def base_run(tmp_path: Path) -> RunConfig:
    from gridsup.runtime.endpoints import RunDir

    return make_run(RunDir(tmp_path), sqlite_url(tmp_path))


def steps(run: RunConfig, count: int) -> list[list[Tick]]:
    source = build_source(run, run_symbols(run))

    async def take() -> list[list[Tick]]:
        return [await source.step() for _ in range(count)]

    return asyncio.run(take())


def test_each_symbol_is_published_once_per_step(base_run: RunConfig) -> None:
    run = run_of(base_run)

    ticks = steps(run, 3)

    assert run_symbols(run) == ["BTC/USDT", "ETH/USDT"]
    assert [[t.symbol for t in step] for step in ticks] == [["BTC/USDT", "ETH/USDT"]] * 3


def test_the_same_seed_gives_the_same_prices_and_another_seed_others(
    base_run: RunConfig,
) -> None:
    first = steps(run_of(base_run, seed=7), 50)
    again = steps(run_of(base_run, seed=7), 50)
    other = steps(run_of(base_run, seed=8), 50)

    assert first == again
    assert [t.last for s in first for t in s] != [t.last for s in other for t in s]


def test_symbols_get_different_walks_from_one_run_seed() -> None:
    seeds = {symbol_seed(7, s) for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT")}

    assert len(seeds) == 3
    assert symbol_seed(7, "BTC/USDT") == symbol_seed(7, "BTC/USDT")  # stable, unlike hash()


@pytest.mark.parametrize(
    ("start_prices", "symbol", "expected"),
    [
        ({}, "BTC/USDT", D("60000")),  # the middle of the first grid on the symbol
        ({}, "ETH/USDT", D("3000")),
        ({"BTC/USDT": D("58123.5")}, "BTC/USDT", D("58123.5")),
    ],
)
def test_the_walk_starts_at_the_given_price_or_the_grids_middle(
    base_run: RunConfig, start_prices: dict[str, Decimal], symbol: str, expected: Decimal
) -> None:
    run = run_of(base_run, start_prices=start_prices)

    assert start_price(run, symbol) == expected
    first = {t.symbol: t.last for t in steps(run, 1)[0]}
    assert first[symbol] == expected


def test_a_symbol_without_a_grid_or_price_is_refused(base_run: RunConfig) -> None:
    with pytest.raises(MarketDataError, match="SOL/USDT"):
        start_price(run_of(base_run), "SOL/USDT")


def test_an_unknown_source_is_refused_with_the_known_ones(base_run: RunConfig) -> None:
    with pytest.raises(MarketDataError, match="synthetic"):
        build_source(run_of(base_run, market_source="carrier-pigeon"), ["BTC/USDT"])


def candles(
    tmp_path: Path, symbol: str, rows: list[tuple[int, float, float, float, float]]
) -> Path:
    frame = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close"])
    frame["volume"] = 1.0
    return save_candles(frame, tmp_path / f"{symbol.replace('/', '-')}.csv")


def test_replay_walks_each_candle_along_its_path_then_stops(
    base_run: RunConfig, tmp_path: Path
) -> None:
    up = (T0, 100.0, 110.0, 95.0, 105.0)  # up candle: open, low, high, close
    down = (T0 + 60_000, 105.0, 108.0, 90.0, 92.0)  # down candle: open, high, low, close
    for symbol in ("BTC/USDT", "ETH/USDT"):
        candles(tmp_path, symbol, [up, down])
    run = run_of(base_run, market_source="replay", market_file=str(tmp_path / "{symbol}.csv"))
    source = build_source(run, run_symbols(run))
    assert isinstance(source, FeedSource)

    async def replay() -> list[list[Tick]]:
        return [await source.step() for _ in range(10)]

    ticks = asyncio.run(replay())

    btc = [t.last for step in ticks for t in step if t.symbol == "BTC/USDT"]
    assert btc == [D(p) for p in ("100", "95", "110", "105", "105", "108", "90", "92")]
    stamps = [t.timestamp for step in ticks for t in step if t.symbol == "BTC/USDT"]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert ticks[-1] == [] and source.finished == {"BTC/USDT", "ETH/USDT"}


def test_replay_file_names_fill_in_the_symbol() -> None:
    assert replay_path("data/{symbol}_1m.csv", "BTC/USDT") == "data/BTC-USDT_1m.csv"
    assert replay_path("{base}{quote}.parquet", "ETH/USDT") == "ETHUSDT.parquet"
    assert replay_path("one.csv", "ETH/USDT") == "one.csv"


def test_the_actor_publishes_ticks_by_topic_and_reports_staleness(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    """A replay of one candle per symbol: ticks flow on each symbol's topic, then the
    replay ends and the status shows every symbol going stale."""
    for symbol in ("BTC/USDT", "ETH/USDT"):
        candles(run_base, symbol, [(T0, 100.0, 110.0, 95.0, 105.0)])
    run = run_of(
        make_run(actor_host.run_dir, sqlite_url(run_base)),
        market_source="replay",
        market_file=str(run_base / "{symbol}.csv"),
        tick_interval_ms=20,
    )
    eth = Subscriber(zctx, actor_host.run_dir.endpoint(MARKET), MARKET_CODEC, (topic("ETH/USDT"),))
    try:
        actor_host.start("market_data", TARGET, run, kind="market_data")

        fresh = eventually(
            lambda: (s := actor_host.status("market_data")).get("ticks_published", 0) > 0 and s,
            message="ticks published",
        )
        assert fresh["source"] == "replay" and fresh["symbols"] == 2
        assert isinstance(fresh["last_tick_age_s"], float)
        assert isinstance(fresh["age:BTC/USDT"], float) and isinstance(fresh["age:ETH/USDT"], float)
        stale = eventually(
            lambda: (s := actor_host.status("market_data")).get("stale_symbols") == 2 and s,
            timeout=10,
            message="both symbols stale after the replay ended",
        )
        assert stale["replay_finished"] == 2
        assert stale["ticks_published"] == 8  # 4 path points x 2 symbols, then nothing
        assert stale["last_tick_age_s"] >= 1.0
        # The ETH subscriber saw ETH only (a late joiner may miss the first ones).
        assert {t.symbol for t in eth.drain()} <= {"ETH/USDT"}
    finally:
        eth.close()


def grid_status(symbol: str, ticks: str, age: float | None) -> dict[str, StatusValue]:
    return {"grid": symbol[:3].lower(), "symbol": symbol, "ticks": ticks, "last_tick_age_s": age}


def test_status_shows_a_grid_off_ticks_the_market_data_age_of_its_symbol(
    actor_host: ActorHost, run_base: Path
) -> None:
    """A running grid without stops does not listen to ticks and has no tick age of its
    own: its row takes its symbol's age from the market-data actor's real status."""
    run = run_of(make_run(actor_host.run_dir, sqlite_url(run_base)), tick_interval_ms=20)
    actor_host.start("market_data", TARGET, run, kind="market_data")
    market = eventually(
        lambda: (s := actor_host.status("market_data")).get("age:ETH/USDT") is not None and s,
        message="per-symbol ages",
    )
    reply = StatusReply(
        supervisor_pid=1,
        uptime=1.0,
        state="running",
        actors=(
            ActorStatus(name="market_data", kind="market_data", state="running", status=market),
            ActorStatus(
                name="grid-btc",
                kind="strategy",
                state="running",
                status=grid_status("BTC/USDT", "off", None),
            ),
            ActorStatus(
                name="grid-eth",
                kind="strategy",
                state="running",
                status=grid_status("ETH/USDT", "on", 0.5),
            ),
        ),
    )

    rows = {r["grid"]: r for r in grid_rows(reply)}

    assert rows["btc"]["ticks"] == "off"
    assert rows["btc"]["last_tick_age_s"] == market["age:BTC/USDT"]
    assert rows["eth"]["ticks"] == "on" and rows["eth"]["last_tick_age_s"] == 0.5  # its own


def test_ticks_reach_a_subscriber_in_walk_order(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any]
) -> None:
    run = run_of(make_run(actor_host.run_dir, sqlite_url(run_base)), seed=3, tick_interval_ms=10)
    expected = [t for step in steps(run, 400) for t in step if t.symbol == "BTC/USDT"]
    btc = Subscriber(zctx, actor_host.run_dir.endpoint(MARKET), MARKET_CODEC, (topic("BTC/USDT"),))
    try:
        actor_host.start("market_data", TARGET, run, kind="market_data")

        got = eventually(lambda: len(btc.drain()) >= 20 and btc.received, message="20 ticks")

        # A subscriber joins late (slow joiner) but then sees the walk's ticks in order.
        first = expected.index(got[0])
        assert got[:20] == expected[first : first + 20]
    finally:
        btc.close()
