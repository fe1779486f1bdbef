"""The desk's workbench fetches an order's trades for the booking: the venue is asked
only when the order filled more than is booked, and a fee paid in a third asset gets
its pair's price before booking."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from desk_parts import PaperAccount, cid, trade_of

from gridsup.actors.execution.venue import PaperVenue
from gridsup.actors.execution.workbench import Workbench
from gridsup.exchange.types import Order, Trade

D = Decimal


class Counting(PaperVenue):
    """The paper account, with the trades of an order scripted and every question counted."""

    def __init__(self, paper: PaperAccount, trades: list[Trade]) -> None:
        super().__init__(paper.account, paper.venue.limiter)
        self.trades = trades
        self.asked: list[str] = []

    async def trades_of(self, order: Order) -> list[Trade]:
        self.asked.append(f"trades {order.id}")
        return self.trades

    async def price(self, symbol: str) -> Decimal | None:
        self.asked.append(f"price {symbol}")
        return D(600)


def bench_of(paper: PaperAccount, venue: Counting) -> Workbench:
    paper.venue = venue
    return paper.bench()


def order(filled: str) -> Order:
    paper = PaperAccount()
    placed = paper.place_elsewhere(cid("a", 1))
    return msgspec.structs.replace(placed, filled=D(filled))


async def test_an_order_that_filled_no_more_than_booked_costs_no_request() -> None:
    paper = PaperAccount()
    venue = Counting(paper, [])
    bench = bench_of(paper, venue)

    none = await bench.trades_to_book(order("0"))
    booked = await bench.trades_to_book(order("0.01"), booked=D("0.01"))

    assert (none, booked, venue.asked) == ([], [], [])


async def test_new_trades_come_with_their_third_asset_fee_priced() -> None:
    paper = PaperAccount()
    filled = order("0.01")
    bnb = trade_of(filled, fee="0.001", fee_currency="BNB")
    venue = Counting(paper, [bnb])

    trades = await bench_of(paper, venue).trades_to_book(filled, booked=D("0.004"))

    assert trades == [bnb]
    assert venue.asked == [f"trades {filled.id}", "price BNB/USDT"]
    assert paper.booking.fee_prices.value(D("0.001"), "BNB", "USDT") == D("0.6")


async def test_fees_in_the_markets_own_assets_need_no_price() -> None:
    paper = PaperAccount()
    filled = order("0.01")
    venue = Counting(paper, [])

    await bench_of(paper, venue).price_fees([trade_of(filled), trade_of(filled, "t2", "1", "USDT")])

    assert venue.asked == []
