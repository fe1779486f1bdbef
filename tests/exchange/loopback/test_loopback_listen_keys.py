"""The loopback's REST listenKey user-data streams, as older ccxt clients use them:
``POST/PUT/DELETE /api/v3/userDataStream`` sent by the real ccxt client (its implicit
``publicPost/Put/DeleteUserDataStream``), weighed 2 each as Binance does, the account's
events on ``/ws/<listenKey>`` unwrapped, the 60-minute lifetime kept by keepalives
(shortened by the admin setting), ``listenKeyExpired`` on expiry and on the ``expire``
fault, -1125 for a key that is gone, and refused keys."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from gridsup.exchange.loopback import LoopbackServer
from gridsup.exchange.loopback.listen_keys import LISTEN_KEY_TTL_MS
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.urls import binance_url_overrides
from gridsup.messages.common import OrderType, Side

KEY, SECRET = "listen-key-test-key", "listen-key-test-secret"


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState({"USDT": Decimal(100000), "BTC": Decimal(1)}, {KEY: SECRET})
    state.set_price("BTC/USDT", Decimal(42000))
    async with LoopbackServer(state) as srv:
        yield srv


@pytest.fixture
async def client(server: LoopbackServer) -> AsyncIterator[Any]:
    """ccxt's binance class pointed at the loopback (the calls an older ccxt.pro made)."""
    exchange = ccxt.binance({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    exchange.urls["api"].update(
        {k: v for k, v in binance_url_overrides(server.url).items() if k in ("public", "private")}
    )
    try:
        yield exchange
    finally:
        await exchange.close()


async def admin(server: LoopbackServer, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, server.url + path, json=body) as resp,
    ):
        return await resp.json()


async def recv(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return json.loads((await asyncio.wait_for(ws.receive(), 5)).data)


def weights_of(server: LoopbackServer, path: str) -> dict[str, int]:
    return {r.method: r.weight for r in server.state.limiter.log if r.path == path}


async def test_a_listen_key_carries_the_accounts_events_and_weighs_two(
    server: LoopbackServer, client: Any
) -> None:
    key = (await client.publicPostUserDataStream())["listenKey"]
    again = (await client.publicPostUserDataStream())["listenKey"]  # the live one, extended
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}/ws/{key}") as ws:
        spec = server.state.spec("BTC/USDT")
        server.state.place(spec, Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(41000), "lk1")
        placed = await recv(ws)
        server.state.set_price("BTC/USDT", Decimal(40900))
        trade = await recv(ws)
        assert await client.publicPutUserDataStream({"listenKey": key}) == {}
        assert await client.publicDeleteUserDataStream({"listenKey": key}) == {}
        closed = await asyncio.wait_for(ws.receive(), 5)  # the key's connection ends

    assert again == key and len(key) == 60
    assert placed["e"] == "executionReport" and placed["x"] == "NEW" and placed["c"] == "lk1"
    assert trade["x"] == "TRADE" and trade["X"] == "FILLED" and trade["i"] == placed["i"]
    assert closed.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE)
    assert weights_of(server, "/api/v3/userDataStream") == {"POST": 2, "PUT": 2, "DELETE": 2}
    with pytest.raises(ccxt.AuthenticationError, match="-1125"):  # ccxt's mapping of -1125
        await client.publicPutUserDataStream({"listenKey": key})


async def test_a_key_expires_without_keepalive_and_lives_with_it(
    server: LoopbackServer, client: Any
) -> None:
    assert server.state.listen_keys.ttl_ms == LISTEN_KEY_TTL_MS  # Binance's 60 minutes
    await admin(server, "POST", "/admin/config", {"listen_key_ttl_s": 0.6})
    kept = (await client.publicPostUserDataStream())["listenKey"]
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}/ws/{kept}") as ws:
        for _ in range(4):  # 1.2 s in all: alive only because each keepalive extends it
            await asyncio.sleep(0.3)
            await client.publicPutUserDataStream({"listenKey": kept})
        spec = server.state.spec("BTC/USDT")
        server.state.place(spec, Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(41000), "lk2")
        alive = await recv(ws)
        expired = await recv(ws)  # no more keepalives: expired on time, nobody asking
        server.state.place(spec, Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(41001), "lk3")
        with pytest.raises(TimeoutError):  # nothing after listenKeyExpired
            await asyncio.wait_for(ws.receive(), 0.5)

    assert alive["c"] == "lk2"
    assert expired["e"] == "listenKeyExpired" and expired["listenKey"] == kept
    with pytest.raises(ccxt.AuthenticationError, match="listenKey does not exist"):
        await client.publicPutUserDataStream({"listenKey": kept})
    assert (await client.publicPostUserDataStream())["listenKey"] != kept  # a new one


async def test_the_expire_fault_ends_every_listen_key(server: LoopbackServer, client: Any) -> None:
    key = (await client.publicPostUserDataStream())["listenKey"]
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}/ws/{key}") as ws:
        await admin(server, "POST", "/admin/ws-faults", {"kind": "expire"})
        event = await recv(ws)
    streams = await admin(server, "GET", "/admin/streams")
    assert event["e"] == "listenKeyExpired" and event["listenKey"] == key
    assert streams["listen_keys"] == {"created": 1, "kept_alive": 0, "expired": 1}


async def test_refused_keys_open_no_listen_key(server: LoopbackServer, client: Any) -> None:
    settings = await admin(server, "POST", "/admin/config", {"keys_refused": True})
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        await client.publicPostUserDataStream()
    await admin(server, "POST", "/admin/config", {"keys_refused": False})
    assert settings["keys_refused"] is True
    assert "listenKey" in await client.publicPostUserDataStream()
