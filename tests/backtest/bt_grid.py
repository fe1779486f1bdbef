"""The real ``GridTradingStrategy`` under observation, for the backtest tests."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.common import FillReport, Side
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.ids import MARKET_LEVEL, parse_client_order_id


class RecordingGrid(GridTradingStrategy):
    """The grid strategy, recording every profit it books and the fill that booked it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fills: list[FillReport] = []
        self.bookings: list[tuple[FillReport, Decimal]] = []

    def on_order_filled(self, fill: FillReport) -> None:
        before = self.realized_profit
        super().on_order_filled(fill)
        self.fills.append(fill)
        if self.realized_profit != before:
            self.bookings.append((fill, self.realized_profit - before))


def expected_cycle_profits(fills: list[FillReport]) -> list[Decimal]:
    """Each completed cycle's profit, rebuilt from the fills alone: the sell's net
    proceeds minus the cost (fees included) of the base it sold, which a grid buy in
    the same slot bought, or else the initial market buy (at its average cost)."""
    slot_cost: dict[int, Decimal] = {}
    unit_entry_cost: Decimal | None = None
    profits: list[Decimal] = []
    for fill in fills:
        cid = parse_client_order_id(fill.client_order_id)
        assert cid is not None
        assert fill.order_closed  # no partial fills in a backtest
        if cid.level == MARKET_LEVEL:
            if fill.side is Side.BUY:
                unit_entry_cost = (fill.amount * fill.price + fill.fee) / fill.amount
            continue
        if fill.side is Side.BUY:
            slot_cost[cid.level] = fill.amount * fill.price + fill.fee
            continue
        slot = cid.level - 1
        cost = slot_cost.pop(slot, None)
        if cost is None:
            assert unit_entry_cost is not None, f"sell {fill.client_order_id} of base never bought"
            cost = fill.amount * unit_entry_cost
        profits.append(fill.amount * fill.price - fill.fee - cost)
    return profits


def check_account(strategy: GridTradingStrategy, paper: PaperExchange, symbol: str) -> None:
    """After every candle: one order per slot, no two orders on a level, nothing negative."""
    assert strategy.slot_invariant_violations() == []
    prices = Counter(o.price for o in paper.open_orders(symbol))
    assert all(n == 1 for n in prices.values()), prices
    balance = paper.balance()
    assert all(v >= 0 for v in balance.free.values()), balance
    assert all(v >= 0 for v in balance.used.values()), balance
