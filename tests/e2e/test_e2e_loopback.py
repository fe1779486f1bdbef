"""The live path end to end: `gridsup start` in live mode against the loopback Binance
exchange (a real HTTP + websocket server process) through the real ccxt client. Market
data follows the ticker stream, the execution actor signs orders with keys from the
environment and follows its fills on the user-data stream (ccxt.pro). Afterwards the
server's own record agrees with the database: every client id was accepted once, every
trade of ours is stored, and a foreign order placed by hand was never touched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import pytest
from e2e_books import ExchangeRecord, exchange_trade, missing_fills, ours, read_database
from e2e_run import actors, all_trading, cycles, grid_status, names, status, wait_for
from e2e_support import FAST_GRIDS, GridsEnv, live_grids_toml, wave_loopback

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import binance_url_overrides
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus, OrderType, Side

KEY_ENV, SECRET_ENV = "GSE2E_LOOPBACK_KEY", "GSE2E_LOOPBACK_SECRET"
KEYS = {KEY_ENV: "e2e-loopback-key", SECRET_ENV: "e2e-loopback-secret"}
BTC_GRIDS = [
    dict(FAST_GRIDS[0]),
    {**FAST_GRIDS[0], "name": "btc-narrow", "lower_price": 58500, "upper_price": 61500},
]
FOREIGN_ID = "manualorder1"  # no "gs" prefix: not ours, must never be touched


# Realistic loopback fee modes: a buy's commission in the base received, or in BNB.
FEE_MODES = {
    "fees-in-asset-received": (),
    "fees-in-bnb": ("--bnb-fees", "--balance", "BNB=10", "--price", "BNB/USDT=600"),
}
START_BALANCES = {
    "fees-in-asset-received": {"USDT": Decimal(10000)},
    "fees-in-bnb": {"USDT": Decimal(10000), "BNB": Decimal(10)},
}


@pytest.fixture(params=list(FEE_MODES))
def fee_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def loopback(env: GridsEnv, fee_mode: str) -> Iterator[str]:
    """The loopback exchange replaying a +-3 % wave on BTC/USDT (a candle every 80 ms)."""
    args = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV, *FEE_MODES[fee_mode])
    with wave_loopback(env, KEYS, *args) as url:
        yield url


def client(url: str) -> CcxtExchange:
    return CcxtExchange(
        "binance",
        api_key=KEYS[KEY_ENV],
        secret=KEYS[SECRET_ENV],
        url_overrides=binance_url_overrides(url),
        rate_limit_ms=1,
    )


async def place_foreign(url: str) -> str:
    ex = client(url)
    try:
        order = await ex.create_order(
            "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("30000"), FOREIGN_ID
        )
    finally:
        await ex.close()
    return order.id


async def exchange_record(
    url: str,
) -> tuple[ExchangeRecord, dict[str, list[str]], OrderStatus, list[Trade]]:
    """The server's record: our trades through ccxt, accepted orders per client id from
    its admin route, and the foreign order's status."""
    ex = client(url)
    try:
        trades = await ex.fetch_my_trades("BTC/USDT", limit=1000)
        foreign = await ex.fetch_order("BTC/USDT", client_order_id=FOREIGN_ID)
        balance = await ex.fetch_balance()
    finally:
        await ex.close()
    async with aiohttp.ClientSession() as http, http.get(f"{url}/admin/orders") as reply:
        admin = await reply.json()
    record = ExchangeRecord(
        orders=[],
        trades=[exchange_trade(t) for t in trades],
        free=dict(balance.free),
        used=dict(balance.used),
    )
    return record, admin["by_client_id"], foreign.status, trades


def test_live_mode_against_the_loopback_exchange_through_ccxt(
    env: GridsEnv, loopback: str, fee_mode: str
) -> None:
    foreign_id = asyncio.run(place_foreign(loopback))
    path = env.write(live_grids_toml(BTC_GRIDS, KEY_ENV, SECRET_ENV))
    grid_names = names(BTC_GRIDS)
    run = env.start(
        str(path),
        "--exchange-url",
        loopback,
        "--tick-interval-ms",
        "100",
        "--poll-interval-ms",
        "200",
        extra_env=KEYS,
    )

    wait_for(
        lambda: all_trading(env, grid_names, min_cycles=1),
        120,
        "both grids cycle on the loopback",
        run,
        detail=lambda: grid_status(env),
    )
    execution = actors(status(env))["execution"]["status"]
    assert execution["mode"] == "live"
    assert execution["foreign_orders"] >= 1
    assert execution["order_feed"] == "stream" and execution["stream_events"] > 0
    assert actors(status(env))["market_data"]["status"]["market_feed"] == "stream"
    done = cycles(env)
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]
    assert "LIVE" in run.stdout()
    assert KEYS[SECRET_ENV] not in run.stdout() + run.stderr()

    exchange, by_client_id, foreign_status, trades = asyncio.run(exchange_record(loopback))
    db = read_database(env.db_url, grid_names)
    ours_ids = [cid for cid in by_client_id if ours(cid, grid_names)]
    assert ours_ids
    fee_assets = {f.fee_currency for f in db.fills if f.fee}
    assert fee_assets == ({"BNB"} if fee_mode == "fees-in-bnb" else {"BTC", "USDT"}), fee_assets
    assert [cid for cid in ours_ids if len(by_client_id[cid]) != 1] == []
    assert by_client_id[FOREIGN_ID] == [foreign_id]
    assert foreign_status is OrderStatus.OPEN  # reported, never cancelled
    assert missing_fills(exchange, db, grid_names) == []
    assert {f.trade_id for f in db.fills} <= {t.id for t in exchange.trades}
    for name in grid_names:
        assert int(db.states[name]["completed_cycles"]) >= done[name] >= 1
    # Money adds up: every asset's balance is the start plus what `gridsup stats` reports
    # (plus the trades of orders left open that filled after the stop, which no actor saw).
    stats = env.gridsup("stats", "--db", env.db_url, "--json")
    assert stats.returncode == 0, stats.stderr
    change = {a: Decimal(v) for a, v in json.loads(stats.stdout)["balance_change"].items()}
    expected = dict(START_BALANCES[fee_mode])
    for asset, amount in change.items():
        expected[asset] = expected.get(asset, Decimal(0)) + amount
    stored = {f.trade_id for f in db.fills}
    for t in after_stop(trades, stored):
        sign = 1 if t.side is Side.BUY else -1
        expected["BTC"] = expected.get("BTC", Decimal(0)) + sign * t.amount
        expected["USDT"] -= sign * t.price * t.amount
        expected[t.fee_currency] = expected.get(t.fee_currency, Decimal(0)) - t.fee
    for asset, amount in expected.items():
        total = exchange.free.get(asset, Decimal(0)) + exchange.used.get(asset, Decimal(0))
        assert total == amount, asset


def after_stop(trades: list[Trade], stored: set[str]) -> list[Trade]:
    """Our trades the database does not hold: they filled after the run stopped."""
    return [t for t in trades if t.id not in stored]
