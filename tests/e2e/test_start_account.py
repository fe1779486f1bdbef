"""`gridsup start` in live mode checks the account before any order (issue 14): keys the
exchange refuses and a free balance too small for the grids are refused with exit 2,
naming the grid, the asset and the numbers; nothing is spawned and nothing is ordered.
Against the loopback Binance (a real HTTP server process) through the real ccxt client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import pytest
from e2e_support import FAST_GRIDS, GridsEnv, e2e_loopback, live_grids_toml

KEY_ENV, SECRET_ENV = "GSE2E_ACCOUNT_KEY", "GSE2E_ACCOUNT_SECRET"
KEYS = {KEY_ENV: "e2e-account-key", SECRET_ENV: "e2e-account-secret"}
GRIDS = [dict(FAST_GRIDS[0]), {**FAST_GRIDS[0], "name": "btc-second", "total_investment": 500}]


@contextmanager
def loopback(env: GridsEnv, balance: str) -> Iterator[str]:
    keys = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV)
    with e2e_loopback(env, KEYS, *keys, "--balance", balance, "--symbol", "BTC/USDT") as url:
        yield url


def start_live(env: GridsEnv, url: str, keys: dict[str, str]) -> tuple[int, str]:
    path = env.write(live_grids_toml(GRIDS, KEY_ENV, SECRET_ENV))
    run = env.start(str(path), "--exchange-url", url, extra_env=keys)
    code = run.wait(90)
    return code, run.stderr() + run.stdout()


async def _orders_placed(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/admin/orders") as reply:
        admin = await reply.json()
    return len(admin["by_client_id"])


def test_a_balance_too_small_is_refused_naming_grid_asset_and_numbers(env: GridsEnv) -> None:
    with loopback(env, "USDT=2100") as url:
        code, output = start_live(env, url, KEYS)
        placed = asyncio.run(_orders_placed(url))

    assert code == 2, output[-2000:]
    for grid, needed in (("btc-fast", "2000"), ("btc-second", "500")):
        assert f'grid "{grid}": balance: needs {needed} USDT free' in output
    assert "the account has 2100" in output
    assert "Traceback" not in output
    assert placed == 0


@pytest.mark.parametrize("secret", ["not-the-secret"])
def test_refused_keys_are_refused_at_start(env: GridsEnv, secret: str) -> None:
    with loopback(env, "USDT=10000") as url:
        code, output = start_live(env, url, {**KEYS, SECRET_ENV: secret})

    assert code == 2, output[-2000:]
    assert f"exchange: api_key_env: binance refused the key in {KEY_ENV}" in output
    assert KEYS[KEY_ENV] not in output and secret not in output
    assert "Traceback" not in output


def test_keys_without_trade_permission_are_refused_at_start(env: GridsEnv) -> None:
    account = {  # Binance's GET /api/v3/account for a read-only key
        "canTrade": False,
        "canWithdraw": False,
        "canDeposit": False,
        "accountType": "SPOT",
        "balances": [{"asset": "USDT", "free": "10000.00000000", "locked": "0.00000000"}],
        "permissions": ["SPOT"],
    }

    async def read_only(url: str) -> None:
        fault = {"kind": "canned", "path": "/api/v3/account", "count": 5, "body": account}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/admin/faults", json=fault) as reply,
        ):
            assert reply.status == 200

    with loopback(env, "USDT=10000") as url:
        asyncio.run(read_only(url))
        code, output = start_live(env, url, KEYS)
        placed = asyncio.run(_orders_placed(url))

    assert code == 2, output[-2000:]
    assert f"exchange: api_key_env: the key in {KEY_ENV} may not trade on binance" in output
    assert placed == 0
