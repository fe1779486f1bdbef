"""`gridsup start` live on OKX, Bybit and Kraken: each venue's real ccxt class against
the loopback exchange speaking that venue's dialect (its own process), through a short
chaos run: the create path answers 429, 5xx and loses a response, and the execution
actor is killed with SIGKILL mid-run. Afterwards: no client id accepted twice, no fill
missing from the database, no order of ours left untracked, and the venue's holdings
equal the opening balances plus every stored fill, fees included, per asset."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
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
from e2e_support import FAST_GRIDS, GridsEnv, grids_toml, wave_loopback

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
SETTLE_MS = 3000  # fills this close to the stop may wait for the next start
CREATE_PATH = {
    "okx": "/api/v5/trade/batch-orders",
    "bybit": "/v5/order/create",
    "kraken": "/0/private/AddOrder",
}


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


KRAKEN_SLOW = (
    "ccxt's kraken class spaces private calls about a second apart (Kraken's call counter): "
    "a grid needs minutes to cycle here, too long for the short run; Kraken's dialect is "
    "proven through its ccxt class in tests/exchange/loopback/test_venue_dialects.py"
)


@pytest.mark.parametrize(
    "venue", ["okx", "bybit", pytest.param("kraken", marks=pytest.mark.skip(reason=KRAKEN_SLOW))]
)
def test_a_live_grid_survives_chaos_on_each_venue(env: GridsEnv, loopback: str, venue: str) -> None:
    dialect = DIALECTS[venue]
    path = CREATE_PATH[venue]
    faults = [
        {"kind": "rate_limit", "method": "POST", "path": path, "retry_after": 0},
        {"kind": "server_error", "method": "POST", "path": path, "status": 503},
        {"kind": "response_lost", "method": "POST", "path": path},
    ]
    asyncio.run(admin(loopback, "POST", "/admin/faults", faults))
    exchange = {"id": venue, "mode": "live", "api_key_env": KEY_ENV, "api_secret_env": SECRET_ENV}
    if venue == "okx":
        exchange["password_env"] = PASS_ENV
    grids_file = env.write(grids_toml(GRIDS, exchange=exchange, market_data={"source": "exchange"}))
    grid_names = names(GRIDS)
    args = ("--exchange-url", loopback, "--tick-interval-ms", "100", "--poll-interval-ms", "200")
    run = env.start(str(grids_file), *args, extra_env=KEYS)

    wait_for(
        lambda: all_trading(env, grid_names, min_cycles=1),
        120,
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
        120,
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
    balance = asyncio.run(admin(loopback, "GET", "/admin/balance"))
    db = read_database(env.db_url, grid_names)
    assert pending["pending"] == []  # every fault was met
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
    held = ledger_from_fills(OPENING, venue_trades, {"BTC/USDT": ("BTC", "USDT")})
    free, used = balance["free"], balance["used"]
    assert isinstance(free, dict) and isinstance(used, dict)
    for asset in ("BTC", "USDT"):
        total = Decimal(free.get(asset, "0")) + Decimal(used.get(asset, "0"))
        assert total == held[asset], (asset, total, held[asset])
    stats = env.gridsup("stats", "--json", "--db", env.db_url)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert int(figures["trades"]) >= 1
