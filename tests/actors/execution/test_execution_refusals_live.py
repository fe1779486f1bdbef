"""Binance's refusals, answered by the loopback exchange and parsed by the real ccxt
client, reach the grid sorted (exchange/refusals.py): temporary ones as retryable
"waiting" answers (the grid keeps the slot), permanent ones as final rejections,
refused keys as a paused account that sends nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.tracked_orders import OrderBook
from gridsup.actors.execution.venue import LiveVenue
from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import LoopbackServer, LoopbackState
from gridsup.exchange.loopback.faults import Canned
from gridsup.exchange.retry import RetryPolicy
from gridsup.messages.common import OrderIntent, OrderType, Side
from gridsup.messages.orders import OrderAck, OrderRejected, PlaceOrder
from gridsup.strategy.ids import grid_tag, make_client_order_id_for_tag

D = Decimal
SYMBOL = "BTC/USDT"
KEY, SECRET = "refusals-key-0123456789", "refusals-secret-abcdefghij"


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    state = LoopbackState({"USDT": D(10000)}, {KEY: SECRET})
    state.set_price(SYMBOL, D(42000))
    async with LoopbackServer(state) as loopback:
        yield loopback


BALANCE = "Account has insufficient balance for requested action."
CLOCK = "Timestamp for this request is outside of the recvWindow."
KEYS = "Invalid API-key, IP, or permissions for action."


def refusal(status: int, code: int, msg: str) -> Canned:
    body: Any = {"code": code, "msg": msg}
    return Canned(method="POST", path="/api/v3/order", status=status, body=body, count=10)


@pytest.mark.parametrize(
    ("answer", "retryable", "says"),
    [
        (refusal(400, -2010, BALANCE), True, "waiting: "),
        (refusal(400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"), True, "waiting: "),
        (refusal(400, -1013, "Market is closed."), True, "waiting: "),
        (refusal(400, -1021, CLOCK), True, "waiting: "),
        (refusal(400, -1013, "Filter failure: LOT_SIZE"), False, "LOT_SIZE"),
        (refusal(400, -1013, "Filter failure: NOTIONAL"), False, "NOTIONAL"),
        (refusal(401, -2015, KEYS), True, "account paused: "),
    ],
    ids=["balance", "price-band", "halted", "clock", "lot-size", "notional", "keys"],
)  # fmt: skip
async def test_refusals_through_ccxt_are_sorted(
    server: LoopbackServer, answer: Canned, retryable: bool, says: str
) -> None:
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

    def place(cycle: int) -> PlaceOrder:
        cid = make_client_order_id_for_tag(grid_tag("g"), 1, Side.BUY, cycle)
        intent = OrderIntent(
            client_order_id=cid,
            symbol=SYMBOL,
            side=Side.BUY,
            type=OrderType.LIMIT,
            amount=D("0.01"),
            price=D(41000),
        )
        return PlaceOrder(request_id=f"r{cycle}", strategy="g", intent=intent)

    server.state.faults.add([answer])
    try:
        refused = await desk.place(place(1))
        server.state.faults.clear()
        before = sum(server.state.requests.values())
        again = await desk.place(place(2))  # the venue answers normally now
        sent = sum(server.state.requests.values()) - before
    finally:
        await exchange.close()

    assert isinstance(refused.reply, OrderRejected)
    assert refused.reply.retryable is retryable
    assert says in refused.reply.reason
    assert (refused.requests == []) is retryable  # only a final refusal is recorded
    if says.startswith("account paused"):
        assert desk.paused is not None
        assert isinstance(again.reply, OrderRejected) and sent == 0  # nothing sent
    else:
        assert isinstance(again.reply, OrderAck)
