"""`gridsup start` refuses to trade live where orders cannot be placed and found by
client id (exit 2, naming the exchange and what is missing), and `gridsup exchanges`
lists the verified venues. In-process (click's runner): nothing is spawned."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner, Result
from e2e_support import FAST_GRIDS, GridsEnv, grids_toml

from gridsup.cli import cli
from gridsup.exchange.loopback import LoopbackServer, LoopbackState

KEYS = {"GSE2E_RK": "refusal-key", "GSE2E_RS": "cmVmdXNhbC1zZWNyZXQ="}
LIVE: dict[str, Any] = {"mode": "live", "api_key_env": "GSE2E_RK", "api_secret_env": "GSE2E_RS"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def text(result: Result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.fixture
async def loopback() -> AsyncIterator[str]:
    state = LoopbackState({"USDT": Decimal(10000)}, {KEYS["GSE2E_RK"]: KEYS["GSE2E_RS"]})
    state.set_price("BTC/USDT", Decimal(60000))
    async with LoopbackServer(state) as server:
        yield server.url


def test_an_exchange_without_a_dialect_is_refused_before_any_request(
    env: GridsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    path = env.write(grids_toml([FAST_GRIDS[0]], exchange={"id": "bitstamp", **LIVE}))
    result = run("start", "--strategies", str(path))  # no network here: refused first
    assert result.exit_code == 2, text(result)
    assert "bitstamp: cannot trade safely" in text(result)
    assert "no dialect" in text(result) and "Traceback" not in text(result)


async def test_okx_without_its_passphrase_is_refused(
    env: GridsEnv, loopback: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    path = env.write(grids_toml([FAST_GRIDS[0]], exchange={"id": "okx", **LIVE}))
    # `gridsup start` runs asyncio.run inside: call it in a thread, off this loop
    result = await asyncio.to_thread(
        run, "start", "--strategies", str(path), "--exchange-url", loopback
    )
    assert result.exit_code == 2, text(result)
    assert "password_env: OKX needs it" in text(result)
    assert "Traceback" not in text(result)


def test_gridsup_exchanges_lists_the_verified_venues() -> None:
    listed = json.loads(run("exchanges", "--json").output)
    assert [v["id"] for v in listed] == ["binance", "bybit", "kraken", "okx"]
    okx = next(v for v in listed if v["id"] == "okx")
    assert "password" in okx["credentials"] and okx["client_order_id"]["max_length"] == 32
    assert all(v["verified"] for v in listed)
    human = run("exchanges").output
    assert "kraken" in human and "refuses" in human
