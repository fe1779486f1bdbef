"""OrderPlacer's fast lot rounding agrees with the general one for every lot size."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gridsup.messages.market import MarketInfo
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.orders import OrderPlacer
from gridsup.strategy.levels import round_amount
from strategy.fakes import FakeExchange

steps = st.sampled_from(
    [Decimal(s) for s in ("0.001", "0.0010", "1", "1.0", "0.00000001", "10", "0.005", "0.25", "5")]
)
amounts = st.decimals(min_value="0", max_value="1000000", places=10)


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(steps, amounts)
def test_fast_rounding_equals_the_general_rounding(step: Decimal, amount: Decimal) -> None:
    market = MarketInfo(symbol="BTC/USDT", base="BTC", quote="USDT", amount_step=step)
    levels = (Decimal(1), Decimal(2))
    desk = OrderPlacer(
        GridBook.fresh(levels, (Decimal(1),), "BTC", "USDT"),
        FakeExchange(market=market),
        "g",
        "00000000",
        "BTC/USDT",
    )

    rounded = desk.round(amount)

    assert rounded == round_amount(amount, step)
    assert rounded <= amount and rounded % step == 0
