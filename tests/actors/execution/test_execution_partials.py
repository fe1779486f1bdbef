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

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.poller import poll
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.tracked_orders import OrderBook
from gridsup.actors.execution.venue import LiveVenue
from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.loopback.faults import ResponseLost, ServerError
from gridsup.exchange.retry import RetryPolicy
from gridsup.exchange.types import Candle, Order
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.orders import CancelOrder, OrderAck, OrderRejected, OrderUpdate, PlaceOrder
from gridsup.strategy.ids import grid_tag, make_client_order_id_for_tag

D = Decimal
SYMBOL = "BTC/USDT"
ORDER = "/api/v3/order"
KEY, SECRET = "partials-key-0123456789", "partials-secret-abcdefghij"


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState({"USDT": D(10000)}, {KEY: SECRET}, partial_fills=True)
    state.set_price(SYMBOL, D(42000))
    async with LoopbackServer(state) as loopback:
        yield loopback


def updates(actions: list[tuple[str, object, object]]) -> list[OrderUpdate]:
    return [a[2] for a in actions if isinstance(a[2], OrderUpdate)]


@pytest.mark.parametrize("polled_first", [True, False])
async def test_a_partial_fill_then_its_cancel_books_every_trade_once(
    server: LoopbackServer, polled_first: bool
) -> None:
    """Polled first: the poll books the trades. Not: the cancel finds them, by order id."""
    exchange = CcxtExchange(
        "binance", api_key=KEY, secret=SECRET, url_overrides=server.url_overrides(), rate_limit_ms=1
    )
    await exchange.connect()
    markets = {SYMBOL: await exchange.market(SYMBOL)}
    run = RunConfig(
        run_dir="",
        exchange_id="binance",
        mode=Mode.LIVE,
        db_url="",
        markets=markets,
        grids=(GridSpec(name="g", grid_id="g", symbol=SYMBOL, config={}, budget_quote=D(5000)),),
    )
    desk = Desk(run, OrderBook(), Budgets({"g": D(5000)}), LiveVenue(exchange, TokenBucket(100)), 1)
    cid = make_client_order_id_for_tag(grid_tag("g"), 1, Side.BUY, 1)
    intent = OrderIntent(
        client_order_id=cid,
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=D("0.05"),
        price=D(41000),
    )
    try:
        placed = await desk.place(PlaceOrder(request_id="p", strategy="g", intent=intent))
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
    finally:
        await exchange.close()

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
    exchange = CcxtExchange(
        "binance",
        api_key=KEY,
        secret=SECRET,
        url_overrides=server.url_overrides(),
        rate_limit_ms=1,
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
    )
    await exchange.connect()
    run = RunConfig(
        run_dir="",
        exchange_id="binance",
        mode=Mode.LIVE,
        db_url="",
        markets={SYMBOL: await exchange.market(SYMBOL)},
        grids=(GridSpec(name="g", grid_id="g", symbol=SYMBOL, config={}, budget_quote=D(5000)),),
    )
    desk = Desk(run, OrderBook(), Budgets({"g": D(5000)}), LiveVenue(exchange, TokenBucket(100)), 1)
    cid = make_client_order_id_for_tag(grid_tag("g"), 1, Side.BUY, 1)
    intent = OrderIntent(
        client_order_id=cid,
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        amount=D("0.05"),
        price=D(41000),
    )
    cancel = CancelOrder(request_id="c", strategy="g", client_order_id=cid, symbol=SYMBOL)
    try:
        await desk.place(PlaceOrder(request_id="p", strategy="g", intent=intent))
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
    finally:
        await exchange.close()

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
