"""`gridsup start` live on OKX, Bybit and Kraken: each venue's real ccxt class against
the loopback exchange speaking that venue's dialect (its own process), through a short
chaos run: the create path answers 429, 5xx and loses a response, and the execution
actor is killed with SIGKILL mid-run. Afterwards: no client id accepted twice, no fill
missing from the database, no order of ours left untracked, and the venue's holdings
equal the opening balances plus every stored fill, fees included, per asset."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import msgspec
import pytest
from e2e_books import ledger_from_fills, ours, read_database, tracked_ids
from e2e_run import (
    actor_pids,
    all_trading,
    configs,
    grid_status,
    names,
    running_again,
    total_cycles,
    wait_for,
)
from e2e_support import FAST_GRIDS, GridsEnv, e2e_loopback, grids_toml, wait_gone, wave_loopback

from gridsup.exchange.ccxt.dialects import DIALECTS
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback.venues import url_overrides
from gridsup.exchange.types import Order, Trade

KEY_ENV, SECRET_ENV, PASS_ENV = "GSE2E_VENUE_KEY", "GSE2E_VENUE_SECRET", "GSE2E_VENUE_PASS"
KEYS = {
    KEY_ENV: "e2e-venue-key",
    SECRET_ENV: "ZTJlLXZlbnVlLXNlY3JldC0wMTIzNDU2Nzg5",  # base64: Kraken decodes it
    PASS_ENV: "e2e-venue-passphrase",
}
OPENING = {"USDT": Decimal("10000")}
GRIDS = [dict(FAST_GRIDS[0])]
EXCHANGE_DATA = {"source": "exchange"}
RUN_ARGS = ("--tick-interval-ms", "100", "--poll-interval-ms", "200")
# A small grid for Kraken's short run: two buys, no market buy for a sell side (Kraken's
# Starter counter allows a call every 3 s once its burst is spent: each placement is
# looked up first, 2 calls). Its full cycle is the soak run's.
KRAKEN_GRIDS = [
    {
        "name": "btc-kraken",
        "symbol": "BTC/USDT",
        "lower_price": 58500,
        "upper_price": 61500,
        "num_grids": 4,
        "total_investment": 1000,
        "initial_position": "none",
    }
]
SETTLE_MS = 3000  # fills this close to the stop may wait for the next start
CREATE_PATH = {
    "okx": "/api/v5/trade/batch-orders",
    "bybit": "/v5/order/create",
    "kraken": "/0/private/AddOrder",
}


@contextlib.contextmanager
def loopback_process(env: GridsEnv, *market: str) -> Iterator[str]:
    """The loopback exchange as its own process (every dialect, the venues' limits on),
    its market moved by ``market`` (``--replay FILE ...`` or ``--price SYMBOL=PRICE``)."""
    keys = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV, "--passphrase-env", PASS_ENV)
    with e2e_loopback(env, KEYS, *keys, "--balance", "USDT=10000", *market) as url:
        yield url


@pytest.fixture
def loopback(env: GridsEnv) -> Iterator[str]:
    """The loopback exchange replaying a +-3 % wave on BTC/USDT."""
    keys = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV, "--passphrase-env", PASS_ENV)
    with wave_loopback(env, KEYS, *keys) as url:
        yield url


async def admin(url: str, method: str, path: str, body: object = None) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{url}{path}", json=body) as reply,
    ):
        assert reply.status == 200, await reply.text()
        data: dict[str, object] = await reply.json()
        return data


async def venue_books(venue: str, url: str) -> tuple[list[Order], list[Trade]]:
    """Open orders and trades as the venue's own ccxt class reads them."""
    ex = CcxtExchange(
        venue,
        api_key=KEYS[KEY_ENV],
        secret=KEYS[SECRET_ENV],
        password=KEYS[PASS_ENV],
        url_overrides=url_overrides(venue, url),
        rate_limit_ms=1,
    )
    try:
        return await ex.fetch_open_orders("BTC/USDT"), await ex.fetch_my_trades("BTC/USDT")
    finally:
        await ex.close()


@pytest.mark.parametrize(
    "venue",
    [
        "okx",
        "bybit",
        # Kraken's Starter counter paces a 13-level grid to minutes: its short run is
        # test_a_kraken_grid_places_its_first_orders_and_finds_them_after_a_restart
        pytest.param("kraken", marks=[pytest.mark.soak, pytest.mark.timeout(1800)]),
    ],
)
def test_a_live_grid_survives_chaos_on_each_venue(env: GridsEnv, loopback: str, venue: str) -> None:
    dialect = DIALECTS[venue]
    asyncio.run(admin(loopback, "POST", "/admin/faults", create_faults(venue)))
    grids_file = env.write(
        grids_toml(GRIDS, exchange=live_exchange(venue), market_data=EXCHANGE_DATA)
    )
    grid_names = names(GRIDS)
    patience = 900 if venue == "kraken" else 120  # Kraken: a call every 3 s past its burst
    run = env.start(str(grids_file), "--exchange-url", loopback, *RUN_ARGS, extra_env=KEYS)

    wait_for(
        lambda: all_trading(env, grid_names, min_cycles=1),
        patience,
        f"the grid cycles on {venue}",
        run,
        detail=lambda: grid_status(env),
    )
    pid = actor_pids(env)["execution"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: running_again(env, "execution", pid), 60, "execution restarted", run)
    before = total_cycles(env)
    wait_for(
        lambda: total_cycles(env) > before and all_trading(env, grid_names),
        patience,
        f"trading again on {venue} after the kill",
        run,
        detail=lambda: grid_status(env),
    )
    stopped_ms = int(time.time() * 1000)
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]
    assert KEYS[SECRET_ENV] not in run.stdout() + run.stderr()
    assert KEYS[PASS_ENV] not in run.stdout() + run.stderr()

    pending = asyncio.run(admin(loopback, "GET", "/admin/faults"))
    record = asyncio.run(admin(loopback, "GET", "/admin/orders"))
    # The venue's balances and all its trades as of one instant (its API pages trades,
    # Bybit 50 at a time, and the replay goes on filling after the stop).
    ledger = asyncio.run(admin(loopback, "GET", "/admin/trades"))
    balance = ledger["balance"]
    requests = asyncio.run(admin(loopback, "GET", "/admin/request_log"))["requests"]
    db = read_database(env.db_url, grid_names)
    assert pending["pending"] == []  # every fault was met
    # the venue's own limits were never passed (the injected 429 is not one of them):
    # the request budget kept the grid, its restart and the market data within them
    assert [r for r in requests if r["retry_at_ms"]] == []  # type: ignore[union-attr]
    by_client_id = {
        dialect.decode_client_id(cid): ids
        for cid, ids in record["by_client_id"].items()  # type: ignore[union-attr]
    }
    ours_ids = [cid for cid in by_client_id if ours(cid, grid_names)]
    assert ours_ids
    assert [cid for cid in ours_ids if len(by_client_id[cid]) != 1] == []  # 0 duplicates
    venue_open, venue_trades = asyncio.run(venue_books(venue, loopback))
    # 0 lost fills: every trade on the venue (there are no foreign orders) is stored with
    # the venue's figures -- but those of the last seconds: the replay goes on trading
    # the orders left open after the stop, and a fill in the last poll interval before
    # it is found by the next start.
    stored = {f.trade_id: f for f in db.fills}
    settled = [t for t in venue_trades if t.timestamp < stopped_ms - SETTLE_MS]
    assert settled
    assert [t.id for t in settled if t.id not in stored] == []
    assert [
        t.id
        for t in venue_trades
        if t.id in stored
        and (t.price, t.amount, t.fee, t.fee_currency, t.side)
        != (
            stored[t.id].price,
            stored[t.id].amount,
            stored[t.id].fee,
            stored[t.id].fee_currency,
            stored[t.id].side,
        )
    ] == []
    # 0 orphans: every open order of ours on the venue is tracked by its grid's state
    tracked = tracked_ids(configs(GRIDS)[grid_names[0]], db.states[grid_names[0]])
    assert venue_open
    assert [o.client_order_id for o in venue_open if o.client_order_id not in tracked] == []
    # money adds up, per asset, fees included: the venue's holdings are the opening
    # balances moved by its trades, which are the stored fills (above)
    every_trade = msgspec.convert(ledger["trades"], list[Trade], strict=False)
    assert len(every_trade) >= len(venue_trades)
    held = ledger_from_fills(OPENING, every_trade, {"BTC/USDT": ("BTC", "USDT")})
    free, used = balance["free"], balance["used"]
    assert isinstance(free, dict) and isinstance(used, dict)
    for asset in ("BTC", "USDT"):
        total = Decimal(free.get(asset, "0")) + Decimal(used.get(asset, "0"))
        assert total == held[asset], (asset, total, held[asset])
    stats = env.gridsup("stats", "--json", "--db", env.db_url)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert int(figures["trades"]) >= 1


def test_a_kraken_grid_places_its_first_orders_and_finds_them_after_a_restart(
    env: GridsEnv,
) -> None:
    """The short Kraken run of the default suite (the chaos run on Kraken's dialect): a
    small grid places its first orders through ccxt's kraken class within Kraken's
    request budget while AddOrder answers a rate limit, a 5xx and loses an answer; the
    run is killed with SIGKILL, started again, and finds every order by its client id:
    nothing placed twice, nothing untracked, no request refused for Kraken's limits,
    the money where it was."""
    grid_names = names(KRAKEN_GRIDS)
    grids_file = env.write(
        grids_toml(KRAKEN_GRIDS, exchange=live_exchange("kraken"), market_data=EXCHANGE_DATA)
    )
    with loopback_process(env, "--price", "BTC/USDT=60000") as url:
        asyncio.run(admin(url, "POST", "/admin/faults", create_faults("kraken")))
        run_args = (str(grids_file), "--exchange-url", url, *RUN_ARGS)
        run = env.start(*run_args, extra_env=KEYS)
        wait_for(
            lambda: all_trading(env, grid_names) and placed_all(env, url, grid_names),
            120,
            "the Kraken grid's first orders on the venue",
            run,
            detail=lambda: grid_status(env),
        )
        first = asyncio.run(admin(url, "GET", "/admin/orders"))["by_client_id"]
        pids = list(actor_pids(env).values())
        os.kill(run.pid, signal.SIGKILL)  # a crash: the grid's orders stay on the venue
        run.proc.wait(10)
        assert wait_gone(pids, 60) == [], "actors outlived their supervisor"

        again = env.start(*run_args, extra_env=KEYS)
        wait_for(
            lambda: all_trading(env, grid_names) and placed_all(env, url, grid_names),
            120,
            "the Kraken grid trading again",
            again,
            detail=lambda: grid_status(env),
        )
        again.interrupt()
        assert again.wait(90) == 0, again.stderr()[-3000:]
        record = asyncio.run(admin(url, "GET", "/admin/orders"))["by_client_id"]
        requests = asyncio.run(admin(url, "GET", "/admin/request_log"))["requests"]
        pending = asyncio.run(admin(url, "GET", "/admin/faults"))["pending"]
        balance = asyncio.run(admin(url, "GET", "/admin/balance"))
        venue_open, venue_trades = asyncio.run(venue_books("kraken", url))

    assert KEYS[SECRET_ENV] not in again.stdout() + again.stderr()
    assert pending == []  # the create path met a 429, a 5xx and a lost answer
    decode = DIALECTS["kraken"].decode_client_id
    placed = {decode(c): ids for c, ids in record.items()}  # type: ignore[union-attr]
    assert len(placed) >= 2 and all(ours(c, grid_names) for c in placed)
    # the restart found every order by its client id: none placed again, none twice
    assert record == first
    assert [c for c, ids in placed.items() if len(ids) != 1] == []
    # 0 orphans: every open order on the venue is tracked by the grid's saved state
    db = read_database(env.db_url, grid_names)
    tracked = tracked_ids(configs(KRAKEN_GRIDS)[grid_names[0]], db.states[grid_names[0]])
    assert venue_open
    assert sorted(str(o.client_order_id) for o in venue_open) == sorted(tracked)
    assert venue_trades == [] and db.fills == []  # the price stood still: nothing filled
    # Kraken's limits were kept: no request of the two runs was refused for the rate
    assert [r for r in requests if r["retry_at_ms"]] == []
    assert_balance_matches_stats(env, balance)


def placed_all(env: GridsEnv, url: str, grid_names: list[str]) -> bool:
    """Every open order the grids count is open on the venue (not only requested)."""
    wanted = sum(s["open_orders"] for s in grid_status(env).values())
    on_venue = asyncio.run(open_client_ids(url))
    return wanted > 0 and len([c for c in on_venue if ours(c, grid_names)]) >= wanted


def create_faults(venue: str) -> list[dict[str, object]]:
    """The create path answers a 429, then a 5xx, then places an order and loses the
    answer."""
    path = CREATE_PATH[venue]
    return [
        {"kind": "rate_limit", "method": "POST", "path": path, "retry_after": 0},
        {"kind": "server_error", "method": "POST", "path": path, "status": 503},
        {"kind": "response_lost", "method": "POST", "path": path},
    ]


def live_exchange(venue: str) -> dict[str, str]:
    exchange = {"id": venue, "mode": "live", "api_key_env": KEY_ENV, "api_secret_env": SECRET_ENV}
    if venue == "okx":
        exchange["password_env"] = PASS_ENV
    return exchange


def assert_balance_matches_stats(env: GridsEnv, balance: dict[str, object]) -> None:
    """The venue's holdings = the opening balances + `gridsup stats`' balance change,
    per asset, fees included."""
    stats = env.gridsup("stats", "--json", "--db", env.db_url)
    assert stats.returncode == 0, stats.stderr
    change = {a: Decimal(v) for a, v in json.loads(stats.stdout)["balance_change"].items()}
    free, used = balance["free"], balance["used"]
    assert isinstance(free, dict) and isinstance(used, dict)
    for asset in set(change) | set(OPENING) | {"BTC"}:
        total = Decimal(free.get(asset, "0")) + Decimal(used.get(asset, "0"))
        expected = OPENING.get(asset, Decimal(0)) + change.get(asset, Decimal(0))
        assert total == expected, (asset, total, expected)


async def open_client_ids(url: str) -> list[str]:
    """Our ids (decoded from the venue's form) of the venue's open orders."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/admin/open-orders") as reply:
        venue_ids: list[str | None] = await reply.json()
    decode = DIALECTS["kraken"].decode_client_id
    return [c for c in (decode(v) for v in venue_ids) if c is not None]
