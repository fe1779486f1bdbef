"""The dashboard application over real HTTP (aiohttp's test server on a loopback port)
with fakes at its seams: who needs the token, the HTTP status of each outcome, the
OpenAPI document against the routes, live updates that carry only what changed, and
the fleet's rows and totals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from web_fakes import FakeAct, FakePrices, FakeSource, fake_actor, fake_grid

from gridsup.web.app import Dashboard, make_app
from gridsup.web.fleet import fleet_rows, health, position, totals
from gridsup.web.openapi import OPENAPI
from gridsup.web.settings import WebSettings

TOKEN = "t0ken-for-tests"


async def client_for(
    dash: Dashboard, host: str = "127.0.0.1", token: str | None = TOKEN
) -> TestClient:
    settings = WebSettings(host, 0, token)
    client = TestClient(TestServer(make_app(dash, settings), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def world() -> AsyncIterator[tuple[TestClient, Dashboard, FakeSource, FakeAct]]:
    source = FakeSource(3)
    act = FakeAct(known={g.name for g in source.infos}, refuse={"g002"})
    dash = Dashboard(source, FakePrices(), db=None, act=act, update_interval=0.05)  # type: ignore[arg-type]
    client = await client_for(dash)
    yield client, dash, source, act
    await client.close()


async def test_loopback_reads_need_no_token_but_every_action_does(world: Any) -> None:
    client, _, _, act = world

    fleet = await client.get("/api/fleet")
    no_token = await client.post("/api/grids/g000/pause")
    wrong = await client.post("/api/grids/g000/pause", headers={"Authorization": "Bearer nope"})

    assert fleet.status == 200 and len((await fleet.json())["grids"]) == 3
    assert no_token.status == 401 and wrong.status == 401
    assert (await wrong.json())["error"] == "unauthorized"
    assert act.asked == []  # nothing reached the supervisor


@pytest.mark.parametrize(
    ("grid", "status", "outcome"),
    [("g000", 200, "done"), ("g002", 409, "refused"), ("nope", 404, "unknown_grid")],
)
async def test_each_outcome_has_its_http_status(
    world: Any, grid: str, status: int, outcome: str
) -> None:
    client, _, _, act = world

    resp = await client.post(
        f"/api/grids/{grid}/pause", headers={"Authorization": f"Bearer {TOKEN}"}
    )

    body = await resp.json()
    assert resp.status == status and body["outcome"] == outcome
    assert act.asked[-1].by.startswith("token:") and TOKEN not in act.asked[-1].by


async def test_beyond_loopback_everything_needs_the_token_and_the_cookie_only_reads() -> None:
    source = FakeSource(2)
    act = FakeAct(known={g.name for g in source.infos})
    client = await client_for(Dashboard(source, FakePrices(), act=act), host="0.0.0.0")  # type: ignore[arg-type]
    try:
        assert (await client.get("/api/fleet")).status == 401
        assert (await client.get("/")).status == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.get("/api/fleet", headers=bearer)).status == 200
        bad = await client.post("/login", data={"token": "wrong"}, allow_redirects=False)
        assert bad.status == 401
        good = await client.post("/login", data={"token": TOKEN}, allow_redirects=False)
        assert good.status == 303 and "HttpOnly" in good.headers["Set-Cookie"]
        assert (await client.get("/api/fleet")).status == 200  # the cookie reads
        assert (await client.post("/api/grids/g000/pause")).status == 401  # never acts
        assert act.asked == []
    finally:
        await client.close()


async def test_unknown_grids_bad_parameters_and_a_missing_database_are_clear_errors(
    world: Any,
) -> None:
    client, _, _, _ = world

    cases = {
        "/api/grids/nope": 404,
        "/grid/nope": 404,
        "/api/grids/g000/orders?limit=0": 400,
        "/api/grids/g000/fills?offset=x": 400,
        "/api/grids/g000/orders": 503,  # no database in this dashboard
    }
    for path, status in cases.items():
        resp = await client.get(path)
        body = await resp.json()
        assert (resp.status, bool(body["detail"])) == (status, True), path


async def test_the_pages_and_their_assets_are_served(world: Any) -> None:
    client, _, _, _ = world
    for path, needle in [
        ("/", "fleet.js"),
        ("/grid/g001", "uPlot.iife.min.js"),
        ("/actors", "/api/actors"),
        ("/static/uplot/uPlot.iife.min.js", "uPlot"),
        ("/static/uplot/LICENSE", "MIT"),
    ]:
        resp = await client.get(path)
        assert resp.status == 200 and needle in await resp.text(), path


async def test_the_openapi_document_describes_every_api_route(world: Any) -> None:
    client, _, _, _ = world
    routed = {
        r.resource.canonical
        for r in client.server.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/")
    }

    served = await (await client.get("/api/openapi.json")).json()

    assert served == json.loads(json.dumps(OPENAPI))
    assert set(OPENAPI["paths"]) == routed


async def test_live_updates_send_everything_first_then_only_what_changed(world: Any) -> None:
    client, dash, source, _ = world
    async with ClientSession() as session:
        url = str(client.make_url("/api/events"))
        async with session.get(url) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            first = await _next_event(resp)
            info = source.infos[1]
            source.status[info.actor] = fake_actor(info, completed_cycles=4)
            second = await _next_event(resp)

    assert first["full"] and {r["grid"] for r in first["rows"]} == {"g000", "g001", "g002"}
    assert not second["full"] and [r["grid"] for r in second["rows"]] == ["g001"]
    assert second["rows"][0]["cycles"] == 4 and second["totals"]["by_quote"]["USDT"]["cycles"] == 10
    await asyncio.sleep(0.2)
    assert dash.hub.watchers == set()  # the page went away: nobody is fed


async def _next_event(resp: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            line = (await resp.content.readline()).decode()
            if line.startswith("data: "):
                data: dict[str, Any] = json.loads(line.removeprefix("data: "))
                return data


@pytest.mark.parametrize(
    ("price", "expected"),
    [(None, None), ("50000", 0.0), ("60000", 0.5), ("70000", 1.0), ("45000", -0.25)],
)
def test_position_in_the_range(price: str | None, expected: float | None) -> None:
    assert position(None if price is None else Decimal(price), fake_grid(0)) == expected


@pytest.mark.parametrize(
    ("status", "actor_state", "state", "expected"),
    [
        ({}, "running", "trading", "ok"),
        ({}, "running", "paused", "paused"),
        ({"last_tick_age_s": 600.0}, "running", "trading", "stale"),
        ({"recon_mismatches": 2}, "running", "trading", "degraded"),
        ({}, "backoff", "backoff", "down"),
        ({}, "stopped", "stopped", "stopped"),
    ],
)
def test_health_in_one_word(
    status: dict[str, Any], actor_state: str, state: str, expected: str
) -> None:
    actor = fake_actor(fake_grid(0), **status)
    if actor_state != "running":
        import msgspec

        actor = msgspec.structs.replace(actor, state=actor_state)
    assert health(actor, state) == expected


def test_totals_add_up_per_quote_currency() -> None:
    source = FakeSource(2)
    eth = fake_grid(9, "ETH/BTC")
    source.infos.append(eth)
    source.status[eth.actor] = fake_actor(eth, realized_profit="0.001")
    rows = fleet_rows(source, FakePrices(), {"g000": {"fees": "0.25"}})  # type: ignore[arg-type]

    total = totals(rows)

    assert total["grids"] == 3
    assert total["by_quote"]["USDT"]["realized_profit"] == "3.0"
    assert total["by_quote"]["USDT"]["fees"] == "0.25"
    assert total["by_quote"]["BTC"]["realized_profit"] == "0.001"
