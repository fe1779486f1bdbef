"""OrderLink: a grid's places and cancels, and what their answers call for -- a passing
refusal is retried with backoff while the order is still wanted, a final refusal of a
placement goes back to the strategy, a refused query is asked again. Order updates are
handed to the strategy by ``apply_update``."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from grid_parts import FakeRequester, grid_strategy, until

from gridsup.actors.grid.context import ActionKind, OrderAction
from gridsup.actors.grid.orders import OrderLink, apply_update, retry_delay
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.messages.orders import (
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderReply,
    OrderSnapshot,
    OrderUpdate,
    PlaceOrder,
    QueryOrders,
)

D = Decimal
INTENT = OrderIntent(
    client_order_id="gsabc0001B0",
    symbol="BTC/USDT",
    side=Side.BUY,
    type=OrderType.LIMIT,
    amount=D("0.01"),
    price=D(50000),
)
PLACE = OrderAction(ActionKind.PLACE, INTENT.client_order_id, INTENT)
CANCEL = OrderAction(ActionKind.CANCEL, INTENT.client_order_id)


class Link:
    """An OrderLink over a fake requester, with what it told the strategy."""

    def __init__(self, wanted: bool = True) -> None:
        self.requester: FakeRequester[OrderReply] = FakeRequester("o")
        self.refusals: list[OrderRejected] = []
        self.wanted = wanted
        self.link = OrderLink(
            self.requester,  # type: ignore[arg-type]
            "btc",
            "BTC/USDT",
            refused=self.refusals.append,
            wanted=lambda cid: self.wanted,
        )

    def last(self) -> PlaceOrder | CancelOrder | QueryOrders:
        return self.requester.sent[-1]  # type: ignore[no-any-return]

    def refuse(self, reason: str, retryable: bool) -> None:
        self.requester.answer(
            OrderRejected(
                request_id=self.last().request_id,
                client_order_id=INTENT.client_order_id,
                reason=reason,
                retryable=retryable,
            )
        )


def test_a_placement_goes_out_for_the_grid_and_its_ack_settles_it() -> None:
    link = Link()

    link.link.send(PLACE)
    sent = link.last()
    link.requester.answer(
        OrderAck(
            request_id=sent.request_id,
            client_order_id=INTENT.client_order_id,
            status=OrderStatus.OPEN,
        )
    )

    assert isinstance(sent, PlaceOrder)
    assert (sent.strategy, sent.intent) == ("btc", INTENT)
    assert (link.link.waiting, link.link.retried, link.refusals) == ({}, 0, [])


def test_a_cancel_names_the_grids_symbol() -> None:
    link = Link()

    link.link.send(CANCEL)

    assert link.last() == CancelOrder(
        request_id=link.last().request_id,
        strategy="btc",
        client_order_id=INTENT.client_order_id,
        symbol="BTC/USDT",
    )


async def test_a_passing_refusal_waits_then_is_sent_again() -> None:
    link = Link()
    link.link.send(PLACE)

    link.refuse("rate limited", retryable=True)

    assert link.link.waiting == {INTENT.client_order_id: "rate limited"}
    assert link.link.retried == 1
    await until(lambda: len(link.requester.sent) == 2, "the placement sent again")
    assert isinstance(link.last(), PlaceOrder) and link.last().intent == INTENT
    link.requester.answer(
        OrderAck(
            request_id=link.last().request_id,
            client_order_id=INTENT.client_order_id,
            status=OrderStatus.OPEN,
        )
    )
    assert link.link.waiting == {}


async def test_an_order_no_longer_wanted_is_not_retried() -> None:
    link = Link(wanted=False)
    link.link.send(PLACE)

    link.refuse("exchange away", retryable=True)
    await until(lambda: not link.link.waiting, "the retry dropped")  # at the retry's time

    assert len(link.requester.sent) == 1


def test_a_final_refusal_of_a_placement_goes_back_to_the_strategy() -> None:
    link = Link()
    link.link.send(PLACE)

    link.refuse("Filter failure: NOTIONAL", retryable=False)

    assert [r.reason for r in link.refusals] == ["Filter failure: NOTIONAL"]
    assert (link.link.waiting, len(link.requester.sent)) == ({}, 1)


def test_a_final_refusal_of_a_cancel_is_only_logged() -> None:
    link = Link()
    link.link.send(CANCEL)

    link.refuse("unknown order", retryable=False)

    assert (link.refusals, len(link.requester.sent)) == ([], 1)


async def test_a_refused_query_is_asked_again_until_a_snapshot_comes() -> None:
    link = Link()
    query = asyncio.ensure_future(link.link.query((INTENT.client_order_id,)))
    await until(lambda: bool(link.requester.unanswered()), "the query asked")
    link.refuse("exchange away", retryable=True)
    await until(lambda: len(link.requester.unanswered()) == 1, "the query asked again")

    asked = link.last()
    link.requester.answer(OrderSnapshot(request_id=asked.request_id, strategy="btc", seq=3))

    assert (await query).seq == 3
    assert isinstance(asked, QueryOrders)
    assert (asked.strategy, asked.symbol, asked.client_order_ids) == (
        "btc",
        "BTC/USDT",
        (INTENT.client_order_id,),
    )


@pytest.mark.parametrize(
    ("attempt", "delay"), [(0, 0.5), (1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (50, 30.0)]
)
def test_retries_back_off_from_half_a_second_to_thirty(attempt: int, delay: float) -> None:
    assert retry_delay(attempt) == delay


def test_updates_reach_the_strategy_only_for_its_orders_and_when_they_change_something() -> None:
    strategy, outbox = grid_strategy()
    strategy.on_tick(Tick(symbol="BTC/USDT", timestamp=1, last=D(52000)))
    buy = next(a.intent for a in outbox.take() if a.intent and a.intent.price == D(50000))
    assert buy is not None

    def update(status: OrderStatus, cid: str = buy.client_order_id, **fields: object) -> bool:
        return apply_update(
            strategy,
            OrderUpdate(
                strategy="btc", seq=1, client_order_id=cid, status=status, filled=D(0), **fields
            ),
        )

    fill = FillReport(
        client_order_id=buy.client_order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        price=D(50000),
        amount=buy.amount,
        fee=D(0),
        fee_currency="USDT",
        trade_id="t1",
        timestamp=2,
        order_filled=buy.amount,
        order_closed=True,
    )
    assert update(OrderStatus.OPEN) is False  # an acknowledgement: nothing new
    assert update(OrderStatus.OPEN, cid="gsother0001B0") is False  # not the grid's
    assert update(OrderStatus.CLOSED, fill=fill) is True
    assert not strategy.tracks(buy.client_order_id)
    counter = [a.intent for a in outbox.take() if a.intent is not None]
    assert [(i.side, i.price) for i in counter] == [(Side.SELL, D(55000))]
