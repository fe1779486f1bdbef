"""Binance's refusals, answered by the loopback exchange and parsed by the real ccxt
client, reach the grid sorted (exchange/refusals.py): temporary ones as retryable
"waiting" answers (the grid keeps the slot), permanent ones as final rejections,
refused keys as a paused account that sends nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from desk_parts import place_order
from live_desk import QUICK_RETRY, live_desk, loopback_binance

from gridsup.exchange.loopback import LoopbackServer
from gridsup.exchange.loopback.faults import Canned
from gridsup.messages.orders import OrderAck, OrderRejected, PlaceOrder


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with loopback_binance() as loopback:
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
    def place(cycle: int) -> PlaceOrder:
        return place_order("g", 1, 41000, cycle=cycle, request_id=f"r{cycle}")

    async with live_desk(server, QUICK_RETRY) as (desk, _):
        server.state.faults.add([answer])
        refused = await desk.place(place(1))
        server.state.faults.clear()
        before = sum(server.state.requests.values())
        again = await desk.place(place(2))  # the venue answers normally now
        sent = sum(server.state.requests.values()) - before

    assert isinstance(refused.reply, OrderRejected)
    assert refused.reply.retryable is retryable
    assert says in refused.reply.reason
    assert (refused.requests == []) is retryable  # only a final refusal is recorded
    if says.startswith("account paused"):
        assert desk.paused is not None
        assert isinstance(again.reply, OrderRejected) and sent == 0  # nothing sent
    else:
        assert isinstance(again.reply, OrderAck)
