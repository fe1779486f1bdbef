"""The execution desk sorts refusals (issue 14): temporary ones are answered as
retryable, "waiting", with the slot kept by the grid; permanent ones are final and
recorded; refused keys pause the whole account, after which nothing reaches the
exchange. A third-asset (BNB) fee is valued in quote at the pair's last price.

The venue is a hand-written fake at the ``Venue`` seam; the desk is the real one.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from desk_parts import grids_run, order_of, place_order, trade_of

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.run_config import Mode
from gridsup.exchange import errors
from gridsup.exchange.refusals import RefusalKind, refusal_kind
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderIntent, OrderStatus
from gridsup.messages.orders import OrderAck, OrderRejected, OrderUpdate, PlaceOrder
from helpers import BTC_USDT_UNFILTERED

D = Decimal
SYMBOL = "BTC/USDT"
MARKET = BTC_USDT_UNFILTERED


class FakeVenue:
    """Answers each placement with the next scripted outcome (an error to raise, or
    'fill': the order fills at once with one trade whose fee is 0.01 BNB)."""

    dry_run = False

    def __init__(self, script: list[BaseException | str]) -> None:
        self.script = script
        self.calls: list[str] = []
        self.prices = {"BNB/USDT": D(600)}

    async def place(self, intent: OrderIntent) -> Order:
        self.calls.append("place")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return order_of(intent, "1", OrderStatus.CLOSED, filled=str(intent.amount))

    async def cancel(self, order_id: str, symbol: str) -> Order:
        raise AssertionError("not used")

    async def lookup(self, client_order_id: str, symbol: str) -> Order | None:
        self.calls.append("lookup")
        return None

    async def trades_of(self, order: Order) -> list[Trade]:
        self.calls.append("trades_of")
        return [trade_of(order, fee="0.01", fee_currency="BNB")]

    async def symbol_trades(self, symbol: str, since: int) -> list[Trade]:
        return []

    async def open_orders(self) -> list[Order]:
        return []

    async def price(self, symbol: str) -> Decimal | None:
        self.calls.append(f"price {symbol}")
        return self.prices.get(symbol)

    async def close(self) -> None:
        return None


def desk(venue: FakeVenue) -> Desk:
    run = grids_run("g", budget=10**6, mode=Mode.LIVE, exchange_id="binance", market=MARKET)
    return Desk(run, TrackedOrders(), Budgets({"g": D(10**6)}), venue, epoch=1)


def place(cycle: int) -> PlaceOrder:
    return place_order("g", 1, 50000, cycle=cycle, request_id=f"r{cycle}")


KEYS = "-2015 Invalid API-key, IP, or permissions for action."
TEMPORARY, PERMANENT, ACCOUNT = RefusalKind.TEMPORARY, RefusalKind.PERMANENT, RefusalKind.ACCOUNT


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (errors.InsufficientFunds("-2010 Account has insufficient balance"), TEMPORARY),
        (errors.InvalidOrder("-1013 Filter failure: PERCENT_PRICE_BY_SIDE"), TEMPORARY),
        (errors.InvalidOrder("binance -1013 Market is closed."), TEMPORARY),
        (errors.ExchangeUnavailable("-1021 outside of the recvWindow"), TEMPORARY),
        (errors.RateLimited("429", retry_after=3), TEMPORARY),
        (errors.InvalidOrder("-1013 Filter failure: LOT_SIZE"), PERMANENT),
        (errors.InvalidOrder("-1013 Filter failure: NOTIONAL"), PERMANENT),
        (errors.BadSymbol("-1121 Invalid symbol."), PERMANENT),
        (errors.AuthenticationError(KEYS), ACCOUNT),
        (errors.InvalidOrder(KEYS), ACCOUNT),
    ],
)  # fmt: skip
def test_refusals_are_sorted_by_what_they_call_for(
    error: errors.ExchangeError, kind: RefusalKind
) -> None:
    assert refusal_kind(error) is kind


def test_a_temporary_refusal_is_retryable_and_records_nothing() -> None:
    venue = FakeVenue([errors.InsufficientFunds("-2010 Account has insufficient balance")])

    outcome = asyncio.run(desk(venue).place(place(1)))

    assert isinstance(outcome.reply, OrderRejected)
    assert outcome.reply.retryable and outcome.reply.reason.startswith("waiting: ")
    assert "insufficient balance" in outcome.reply.reason
    assert outcome.requests == []


def test_a_permanent_refusal_is_final_and_recorded() -> None:
    venue = FakeVenue([errors.InvalidOrder("-1013 Filter failure: LOT_SIZE")])
    the_desk = desk(venue)

    outcome = asyncio.run(the_desk.place(place(1)))

    assert isinstance(outcome.reply, OrderRejected) and not outcome.reply.retryable
    assert len(outcome.requests) == 1 and the_desk.rejected == 1


def test_refused_keys_pause_the_account_until_a_probe_succeeds() -> None:
    venue = FakeVenue([errors.AuthenticationError("-2015 Invalid API-key, IP, or permissions")])
    the_desk = desk(venue)

    async def scenario() -> list[object]:
        first = await the_desk.place(place(1))
        calls = len(venue.calls)
        second = await the_desk.place(place(2))  # no request reaches the venue
        assert len(venue.calls) == calls
        the_desk.resume()  # a poll went through
        venue.script.append("fill")
        third = await the_desk.place(place(3))
        return [first.reply, second.reply, third.reply]

    first, second, third = asyncio.run(scenario())

    for reply in (first, second):
        assert isinstance(reply, OrderRejected) and reply.retryable
        assert reply.reason.startswith("account paused: ")
    assert isinstance(third, OrderAck)


def test_a_bnb_fee_is_valued_at_the_pairs_price() -> None:
    venue = FakeVenue(["fill"])

    outcome = asyncio.run(desk(venue).place(place(1)))

    updates = [a[2] for a in outcome.actions if isinstance(a[2], OrderUpdate)]
    fills = [u.fill for u in updates if u.fill is not None]
    assert len(fills) == 1
    assert fills[0].fee_currency == "BNB" and fills[0].fee_quote == D("0.01") * D(600)
    assert venue.calls.count("price BNB/USDT") == 1
