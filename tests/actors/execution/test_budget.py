"""Budgets and positions (invariant 7: grids share an account, not its money): a buy is
refused when open buys, the base held at cost and the order itself would pass the
grid's budget (for good only when the order alone passes it); sells are never refused;
fills move the position, fees included."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from gridsup.actors.execution.budget import Budgets, Position
from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side

D = Decimal


def intent(side: Side, amount: str, price: str | None = "50000") -> OrderIntent:
    return OrderIntent(
        client_order_id="c",
        symbol="BTC/USDT",
        side=side,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        amount=D(amount),
        price=D(price) if price is not None else None,
    )


def fill(
    side: Side, amount: str, price: str, fee: str = "0", fee_currency: str = "USDT"
) -> FillReport:
    return FillReport(
        client_order_id="c",
        symbol="BTC/USDT",
        side=side,
        price=D(price),
        amount=D(amount),
        fee=D(fee),
        fee_currency=fee_currency,
        trade_id="t",
        timestamp=0,
        order_filled=D(amount),
        order_closed=True,
    )


@pytest.mark.parametrize(
    ("open_buys", "held_at_cost", "order", "refused"),
    [
        ("0", "0", "0.02", False),  # 1000 of 1000: exactly the budget
        ("0", "0", "0.02001", True),  # 1000.5 > 1000
        ("600", "0", "0.008", False),  # 600 + 400
        ("600", "0", "0.00801", True),
        ("300", "300", "0.008", False),  # open buys and base held both count
        ("300", "300", "0.00801", True),
    ],
)
def test_a_buy_is_refused_once_it_would_pass_the_budget(
    open_buys: str, held_at_cost: str, order: str, refused: bool
) -> None:
    budgets = Budgets({"g": D(1000)}, {"g": Position(base=D("0.006"), cost=D(held_at_cost))})

    reason = budgets.check("g", intent(Side.BUY, order), D(open_buys), None)

    assert (reason is not None, budgets.refused) == (refused, int(refused))
    if refused:
        assert reason is not None and "budget exceeded for grid g" in reason


@pytest.mark.parametrize(
    ("grid", "order", "price", "never"),
    [
        ("g", "0.02", "50000", False),  # fits an empty budget: refused for now only
        ("g", "0.02001", "50000", True),  # 1000.5 alone > 1000: can never fit
        ("g", "0.02", None, False),  # a market buy before any price: it will get one
        ("other", "0.001", "50000", True),  # no budget at all
    ],
)
def test_a_refusal_is_for_good_only_when_the_order_alone_exceeds_the_budget(
    grid: str, order: str, price: str | None, never: bool
) -> None:
    budgets = Budgets({"g": D(1000)})

    assert budgets.never_fits(grid, intent(Side.BUY, order, price), None) is never


def test_sells_are_never_refused() -> None:
    budgets = Budgets({"g": D(1)}, {"g": Position(base=D(5), cost=D(10**6))})

    assert budgets.check("g", intent(Side.SELL, "5"), D(10**6), None) is None


def test_a_market_buy_is_valued_at_the_last_price_and_refused_without_one() -> None:
    budgets = Budgets({"g": D(1000)})
    market_buy = intent(Side.BUY, "0.02", price=None)

    assert budgets.check("g", market_buy, D(0), D(50000)) is None
    assert budgets.check("g", market_buy, D(0), D(50001)) is not None
    assert budgets.check("g", market_buy, D(0), None) == (
        "budget: no price known to value a market buy"
    )


def test_an_unknown_grid_has_no_budget() -> None:
    assert Budgets({"g": D(1000)}).check("other", intent(Side.BUY, "0.001"), D(0), None) == (
        "budget: unknown grid 'other'"
    )


@pytest.mark.parametrize(
    ("fee", "fee_currency", "fee_quote", "base", "cost"),
    [
        ("0.05", "USDT", None, "0.01", "500.05"),  # a quote fee adds to the cost
        ("0.00001", "BTC", None, "0.00999", "500"),  # a base fee shrinks what is held
        ("0.0001", "BNB", "0.06", "0.01", "500.06"),  # a third asset's fee at its quote value
        ("0.0001", "BNB", None, "0.01", "500.0001"),  # unvalued: counted as it is
    ],
)
def test_a_buy_fill_moves_the_position_fees_included(
    fee: str, fee_currency: str, fee_quote: str | None, base: str, cost: str
) -> None:
    budgets = Budgets({"g": D(1000)})
    report = fill(Side.BUY, "0.01", "50000", fee, fee_currency)
    if fee_quote is not None:
        report = msgspec.structs.replace(report, fee_quote=D(fee_quote))

    budgets.on_fill("g", report, "BTC")

    assert budgets.positions["g"] == Position(base=D(base), cost=D(cost))


def test_a_sell_releases_the_quote_it_brought_back_and_never_goes_below_zero() -> None:
    budgets = Budgets({"g": D(1000)}, {"g": Position(base=D("0.02"), cost=D(1000))})

    budgets.on_fill("g", fill(Side.SELL, "0.005", "60000"), "BTC")
    assert budgets.positions["g"] == Position(base=D("0.015"), cost=D(700))  # 1000 - 300

    budgets.on_fill("g", fill(Side.SELL, "0.02", "60000"), "BTC")  # more than held
    assert budgets.positions["g"] == Position()


def test_selling_an_initial_holding_leaves_the_position_alone() -> None:
    budgets = Budgets({"g": D(1000)})

    budgets.on_fill("g", fill(Side.SELL, "0.01", "60000"), "BTC")

    assert budgets.positions["g"] == Position()


def test_what_a_grid_holds_counts_against_its_next_buy() -> None:
    budgets = Budgets({"g": D(1000)})
    budgets.on_fill("g", fill(Side.BUY, "0.01", "50000"), "BTC")  # 500 held at cost

    assert budgets.check("g", intent(Side.BUY, "0.01"), D(0), None) is None  # 500 + 500
    assert budgets.check("g", intent(Side.BUY, "0.01001"), D(0), None) is not None


def test_a_grid_without_reserve_re_buys_the_level_it_sold_first() -> None:
    """Budget = the two levels' notional exactly (reserve_pct 0). Both buys fill; the
    upper lot sells at a profit: the upper buy fits again (an average cost of the two
    lots would have held 490 against it and refused it until the lower lot sold)."""
    budgets = Budgets({"g": D(980)})
    budgets.on_fill("g", fill(Side.BUY, "0.01", "50000"), "BTC")
    budgets.on_fill("g", fill(Side.BUY, "0.01", "48000"), "BTC")
    budgets.on_fill("g", fill(Side.SELL, "0.01", "51000"), "BTC")

    assert budgets.positions["g"] == Position(base=D("0.01"), cost=D(470))  # 980 - 510
    assert budgets.check("g", intent(Side.BUY, "0.01"), D(0), None) is None  # 470 + 500
