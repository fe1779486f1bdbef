"""A partially filled order, then its cancel, through the real execution desk, the real
ccxt client and the loopback Binance (partial fills on): every trade of the order is
booked once, the cancel's trades are fetched by the order's id, and the grid hears of
the partial fill and of the cancel with the amount that filled."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from desk_parts import SYMBOL, place_order, updates
from live_desk import QUICK_RETRY, live_desk, loopback_binance

from gridsup.actors.execution.poller import poll
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.venue import LiveVenue
from gridsup.exchange.loopback import LoopbackServer
from gridsup.exchange.loopback.faults import ResponseLost, ServerError
from gridsup.exchange.types import Candle, Order
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.orders import CancelOrder, OrderAck, OrderRejected, PlaceOrder

D = Decimal
ORDER = "/api/v3/order"


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with loopback_binance(partial_fills=True) as loopback:
        yield loopback


def buy() -> PlaceOrder:
    """Grid g's buy of 0.05 BTC at 41000, below the market (42000)."""
    return place_order("g", 1, 41000, "0.05", cycle=1, request_id="p")


@pytest.mark.parametrize("polled_first", [True, False])
async def test_a_partial_fill_then_its_cancel_books_every_trade_once(
    server: LoopbackServer, polled_first: bool
) -> None:
    """Polled first: the poll books the trades. Not: the cancel finds them, by order id."""
    cid = buy().intent.client_order_id
    async with live_desk(server) as (desk, exchange):
        placed = await desk.place(buy())
        assert isinstance(placed.reply, OrderAck)
        now = int(time.time() * 1000)
        for ts, volume in ((now, D("0.2")), (now + 1, D("0.1"))):  # 10 % of each: two trades
            server.state.feed_candle(
                SYMBOL, Candle(ts, D(41500), D(41600), D(40900), D(41500), volume)
            )
        poll_actions: list[tuple[str, object, object]] = []
        if polled_first:
            polled = await poll(desk.venue, desk.book, desk.grid_of, SYMBOL)
            _, poll_actions = await desk.on_poll(polled)
        cancelled = await desk.cancel(
            CancelOrder(request_id="c", strategy="g", client_order_id=cid, symbol=SYMBOL)
        )
        trades = await exchange.fetch_order_trades(SYMBOL, placed.reply.exchange_order_id or "")

    fills = [u.fill for u in updates(poll_actions) + updates(cancelled.actions) if u.fill]
    assert [f.trade_id for f in fills] == [t.id for t in trades]  # each once, none missed
    assert [f.amount for f in fills] == [D("0.02"), D("0.01")]
    assert not any(f.order_closed for f in fills[:-1])
    final = updates(cancelled.actions)[-1]
    assert final.status is OrderStatus.CANCELED and final.filled == D("0.03")
    assert sum(f.fee for f in fills) == sum(t.fee for t in trades)


class OrderTradesOnly:
    """A fake exchange at the venue's seam: answers trades by order id only."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def fetch_order_trades(self, symbol: str, order_id: str) -> list[Any]:
        self.asked.append((symbol, order_id))
        return []

    async def fetch_my_trades(self, *args: object, **kwargs: object) -> list[Any]:
        raise AssertionError("an order's trades are never looked up by time")


async def test_an_orders_trades_are_asked_for_by_its_id_never_since_its_timestamp() -> None:
    exchange = OrderTradesOnly()
    venue = LiveVenue(exchange, TokenBucket(100))  # type: ignore[arg-type]
    cancelled = Order(
        id="42",
        client_order_id="x",
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        status=OrderStatus.CANCELED,
        price=D(41000),
        amount=D("0.05"),
        filled=D("0.03"),
        timestamp=2_000_000_000_000,  # Binance: the cancel's time, after the trades
    )

    await venue.trades_of(cancelled)

    assert exchange.asked == [(SYMBOL, "42")]


@pytest.mark.parametrize("lookup_fails", [False, True], ids=["confirmed-by-lookup", "resent"])
async def test_a_cut_orders_cancel_whose_answers_are_lost_is_confirmed(
    server: LoopbackServer, lookup_fails: bool
) -> None:
    """A partly filled buy is cut; every answer to its cancel is lost (the exchange
    cancels it all the same). The look-up by client id confirms it; when that fails too,
    the cancel is sent again (as the grid does) until the exchange confirms. Its trades
    are booked once, and the balances add up."""
    start = server.state.paper.balance()
    cid = buy().intent.client_order_id
    cancel = CancelOrder(request_id="c", strategy="g", client_order_id=cid, symbol=SYMBOL)
    async with live_desk(server, QUICK_RETRY) as (desk, exchange):
        await desk.place(buy())
        now = int(time.time() * 1000)
        server.state.feed_candle(
            SYMBOL, Candle(now, D(41500), D(41600), D(40900), D(41500), D("0.2"))
        )
        polled = await desk.on_poll(await poll(desk.venue, desk.book, desk.grid_of, SYMBOL))
        lost = [ResponseLost(method="DELETE", path=ORDER, count=10)]
        if lookup_fails:
            lost.append(ServerError(method="GET", path=ORDER, count=10))
        server.state.faults.add(lost)
        first = await desk.cancel(cancel)
        server.state.faults.clear()
        again = await desk.cancel(cancel) if lookup_fails else first
        trades = await exchange.fetch_order_trades(SYMBOL, desk.book.get(cid).exchange_order_id)

    assert isinstance(first.reply, OrderAck if not lookup_fails else OrderRejected)
    assert isinstance(again.reply, OrderAck) and again.reply.status is OrderStatus.CANCELED
    assert server.state.paper.fetch_order(client_order_id=cid).status is OrderStatus.CANCELED
    fills = [u.fill for u in updates(polled[1] + first.actions + again.actions) if u.fill]
    assert [f.trade_id for f in fills] == [t.id for t in trades] and trades  # each once
    end = server.state.paper.balance()
    moved = {
        "BTC": sum(f.amount - f.fee for f in fills),
        "USDT": -sum(f.amount * f.price for f in fills),
    }
    for asset, change in moved.items():
        total = end.free.get(asset, D(0)) + end.used.get(asset, D(0))
        assert total == start.free.get(asset, D(0)) + start.used.get(asset, D(0)) + change
