"""Each venue dialect of the loopback (OKX v5, Bybit v5, Kraken spot REST) through the
real ccxt class of that venue: a whole grid cycle whose balances add up, orders found
by client id open and finished (also by a restarted client), faults on the create
path settled without a second order, and each venue's signature checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
from venue_support import (
    CREATE_PATH,
    KEY,
    OPENING,
    PASSPHRASE,
    SECRET,
    VENUES,
    NoSleep,
    venue_client,
)

from gridsup.exchange.errors import AuthenticationError, OrderNotFound
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.loopback.faults import RateLimit, ResponseLost, ServerError
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.strategy.ids import make_client_order_id

D = Decimal
pytestmark = pytest.mark.parametrize("venue", VENUES)


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState(OPENING, {KEY: SECRET})
    state.set_price("BTC/USDT", D("60000"))
    async with LoopbackServer(state, passphrases={KEY: PASSPHRASE}) as running:
        yield running


def cid(level: int, side: Side, cycle: int) -> str:
    return make_client_order_id("venue-grid", level, side, cycle)


def holdings_from_trades(trades: list[Trade]) -> dict[str, Decimal]:
    """Opening balances moved by every trade, its fee taken in its own asset."""
    held = dict(OPENING)
    for t in trades:
        base, quote = t.symbol.split("/")
        sign = 1 if t.side is Side.BUY else -1
        held[base] = held.get(base, D(0)) + sign * t.amount
        held[quote] = held.get(quote, D(0)) - sign * t.amount * t.price
        held[t.fee_currency] = held.get(t.fee_currency, D(0)) - t.fee
    return held


FEE_ASSETS = {
    "okx": {"buy": "BTC", "sell": "USDT"},
    "bybit": {"buy": "BTC", "sell": "USDT"},
    "kraken": {"buy": "USDT", "sell": "USDT"},
}


async def test_a_grid_cycle_adds_up(venue: str, server: LoopbackServer) -> None:
    ex = venue_client(venue, server)
    try:
        await ex.connect()
        buy = await ex.create_order(
            "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D("59000"), cid(3, Side.BUY, 1)
        )
        server.state.set_price("BTC/USDT", D("58900"))  # the buy fills
        filled = await ex.fetch_order("BTC/USDT", client_order_id=cid(3, Side.BUY, 1))
        sell = await ex.create_order(
            "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.01"), D("61000"), cid(4, Side.SELL, 1)
        )
        server.state.set_price("BTC/USDT", D("61100"))  # the sell fills
        sold = await ex.fetch_order("BTC/USDT", client_order_id=cid(4, Side.SELL, 1))
        trades = await ex.fetch_my_trades("BTC/USDT")
        balance = await ex.fetch_balance()
        open_orders = await ex.fetch_open_orders("BTC/USDT")
    finally:
        await ex.close()

    assert buy.client_order_id == cid(3, Side.BUY, 1) and buy.status is OrderStatus.OPEN
    assert filled.id == buy.id and filled.status is OrderStatus.CLOSED
    assert filled.filled == D("0.01") and filled.fee > 0
    assert sold.id == sell.id and sold.status is OrderStatus.CLOSED
    assert open_orders == []
    assert sorted((t.side.value, t.price, t.amount) for t in trades) == [
        ("buy", D("59000"), D("0.01")),
        ("sell", D("61000"), D("0.01")),
    ]
    assert all(t.fee > 0 for t in trades)
    # each venue's fee rule: OKX and Bybit take a buy's fee from the base it brings,
    # Kraken takes every fee in quote (and a buy locked its fee with its cost)
    assert {t.side.value: t.fee_currency for t in trades} == FEE_ASSETS[venue]
    # money adds up: the venue's holdings = opening + trades, fees included, per asset
    expected = holdings_from_trades(trades)
    for asset in ("BTC", "USDT"):
        assert balance.total(asset) == expected[asset], asset
    quote_fees = sum(t.fee for t in trades if t.fee_currency == "USDT")
    assert balance.total("USDT") - OPENING["USDT"] == D("20") - quote_fees


async def test_a_restarted_client_finds_its_orders_by_client_id(
    venue: str, server: LoopbackServer
) -> None:
    first = venue_client(venue, server)
    try:
        await first.connect()
        resting = await first.create_order(
            "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D("58000"), cid(1, Side.BUY, 7)
        )
        filled = await first.create_order(
            "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D("59500"), cid(2, Side.BUY, 7)
        )
        canceled = await first.create_order(
            "BTC/USDT", Side.SELL, OrderType.LIMIT, D("0.01"), D("62000"), cid(5, Side.SELL, 7)
        )
        await first.cancel_order(canceled.id, "BTC/USDT")
    finally:
        await first.close()
    server.state.set_price("BTC/USDT", D("59400"))

    second = venue_client(venue, server)  # a restart: nothing in memory
    try:
        await second.connect()
        found = {
            c: await second.fetch_order("BTC/USDT", client_order_id=c)
            for c in (cid(1, Side.BUY, 7), cid(2, Side.BUY, 7), cid(5, Side.SELL, 7))
        }
        listed = await second.fetch_open_orders()
        with pytest.raises(OrderNotFound):
            await second.fetch_order("BTC/USDT", client_order_id=cid(9, Side.BUY, 7))
    finally:
        await second.close()

    assert [(o.id, o.status) for o in found.values()] == [
        (resting.id, OrderStatus.OPEN),
        (filled.id, OrderStatus.CLOSED),
        (canceled.id, OrderStatus.CANCELED),
    ]
    assert [(o.id, o.client_order_id) for o in listed] == [(resting.id, cid(1, Side.BUY, 7))]


async def test_faults_on_create_never_place_twice(venue: str, server: LoopbackServer) -> None:
    path = CREATE_PATH[venue]
    server.state.faults.add(
        [
            RateLimit(method="POST", path=path, retry_after=0),
            ServerError(method="POST", path=path, status=503),
            ResponseLost(method="POST", path=path),  # placed, answer lost
        ]
    )
    sleep = NoSleep()
    ex = venue_client(venue, server, sleep=sleep)
    ids = [cid(level, Side.BUY, 2) for level in (1, 2, 3)]
    try:
        await ex.connect()
        placed = [
            await ex.create_order(
                "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D("50000") + level, c
            )
            for level, c in enumerate(ids)
        ]
    finally:
        await ex.close()

    by_client_id = server.state.orders_by_client_id()
    venue_ids = {o.client_order_id for o in server.state.paper.orders()}
    assert len(by_client_id) == 3 and all(len(v) == 1 for v in by_client_id.values())
    assert [o.client_order_id for o in placed] == ids
    assert len(venue_ids) == 3
    assert [a.response_lost for a in server.state.accepted].count(True) == 1
    assert len(sleep.delays) >= 2  # the rate limit and the 5xx were retried


async def test_a_wrong_credential_is_refused_as_an_authentication_error(
    venue: str, server: LoopbackServer
) -> None:
    ex = venue_client(venue, server, password="wrong-pass")
    if venue != "okx":  # the passphrase is OKX's: break the key instead
        ex = venue_client(venue, server)
        server.state.keys.clear()
    try:
        with pytest.raises(AuthenticationError):
            await ex.fetch_balance()
    finally:
        await ex.close()


async def test_an_unsigned_private_request_is_refused(venue: str, server: LoopbackServer) -> None:
    path = {"okx": "/api/v5/account/balance", "bybit": "/v5/account/wallet-balance"}.get(
        venue, "/0/private/BalanceEx"
    )
    method = "POST" if venue == "kraken" else "GET"
    async with aiohttp.ClientSession() as http, http.request(method, server.url + path) as reply:
        body = await reply.json()
    assert "result" not in body or not body["result"]
    assert any(k in body for k in ("error", "retCode", "code"))
    assert body.get("retCode", body.get("code", "x")) not in (0, "0")
