"""The loopback exchange's websocket side at the wire: the WebSocket API's signed
user-data subscription (and its refusals), the ``executionReport`` fields of a
placement and of each trade, market streams, and the ordering faults."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from gridsup.exchange.loopback import LoopbackServer
from gridsup.exchange.loopback.state import LoopbackState
from gridsup.exchange.loopback.ws import WsHub
from gridsup.exchange.loopback.ws_faults import Duplicate, Reorder
from gridsup.messages.common import OrderType, Side

KEY, SECRET = "wskey", "wssecret"


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState({"USDT": Decimal(100000), "BTC": Decimal(1)}, {KEY: SECRET})
    state.set_price("BTC/USDT", Decimal(42000))
    async with LoopbackServer(state) as srv:
        yield srv


def signed(params: dict[str, Any], secret: str = SECRET) -> dict[str, Any]:
    query = urlencode(sorted(params.items()))
    return {
        **params,
        "signature": hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest(),
    }


async def recv(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return json.loads((await asyncio.wait_for(ws.receive(), 5)).data)


async def subscribe(ws: aiohttp.ClientWebSocketResponse, secret: str = SECRET) -> Any:
    params = signed({"apiKey": KEY, "timestamp": int(time.time() * 1000)}, secret)
    await ws.send_str(
        json.dumps({"id": "1", "method": "userDataStream.subscribe.signature", "params": params})
    )
    return await recv(ws)


async def test_a_bad_signature_is_refused(server: LoopbackServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url + "/ws-api/v3") as ws:
        answer = await subscribe(ws, secret="wrong")
    assert answer["status"] == 400 and answer["error"]["code"] == -1022


async def test_execution_reports_of_a_placement_and_its_trade(server: LoopbackServer) -> None:
    state = server.state
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url + "/ws-api/v3") as ws:
        answer = await subscribe(ws)
        assert answer["status"] == 200 and "subscriptionId" in answer["result"]
        spec = state.spec("BTC/USDT")
        state.place(spec, Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(41000), "cid1")
        placed = (await recv(ws))["event"]
        state.set_price("BTC/USDT", Decimal(40900))
        trade = (await recv(ws))["event"]

    assert placed["e"] == "executionReport" and placed["x"] == "NEW" and placed["X"] == "NEW"
    assert placed["c"] == "cid1" and placed["z"] == "0.00000000" and placed["t"] == -1
    assert trade["x"] == "TRADE" and trade["X"] == "FILLED" and trade["i"] == placed["i"]
    assert Decimal(trade["l"]) == Decimal(trade["z"]) == Decimal("0.01")
    assert Decimal(trade["L"]) == Decimal(41000) and Decimal(trade["Z"]) == Decimal(410)
    # a buy pays its commission in the asset it receives (the realistic loopback)
    assert trade["N"] == "BTC" and Decimal(trade["n"]) > 0 and trade["t"] != -1
    assert trade["m"] is True and isinstance(trade["T"], int)


async def test_market_streams_send_the_ticker_and_trades(server: LoopbackServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url + "/ws/0") as ws:
        await ws.send_str(
            json.dumps(
                {"method": "SUBSCRIBE", "params": ["btcusdt@ticker", "btcusdt@trade"], "id": 1}
            )
        )
        assert await recv(ws) == {"result": None, "id": 1}
        snapshot = await recv(ws)
        server.state.set_price("BTC/USDT", Decimal(42100))
        events = [await recv(ws), await recv(ws)]
    assert snapshot["e"] == "24hrTicker" and Decimal(snapshot["c"]) == Decimal(42000)
    assert {e["e"] for e in events} == {"24hrTicker", "trade"}
    assert all(Decimal(e.get("c") or e.get("p")) == Decimal(42100) for e in events)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [(Reorder(count=3), ["p3", "p2", "p1"]), (Duplicate(count=2), ["p1", "p1", "p2", "p2", "p3"])],
)
async def test_ordering_faults(server: LoopbackServer, fault: Any, expected: list[str]) -> None:
    hub = next(
        o for o in server.state.observers if isinstance(getattr(o, "__self__", None), WsHub)
    ).__self__
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url + "/ws-api/v3") as ws:
        await subscribe(ws)
        hub.apply(fault)
        spec = server.state.spec("BTC/USDT")
        for i in (1, 2, 3):
            server.state.place(
                spec, Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(30000 + i), f"p{i}"
            )
        got = [(await recv(ws))["event"]["c"] for _ in expected]
    assert got == expected
