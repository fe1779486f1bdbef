"""fill_report: the one builder of a strategy's FillReport from an exchange Trade."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from gridsup.exchange.fill_report import fill_report
from gridsup.exchange.types import Trade
from gridsup.messages.common import FillReport, Side

TRADE = Trade(
    id="t1",
    order_id="o1",
    client_order_id="g1L3B0",
    symbol="BTC/USDT",
    side=Side.BUY,
    price=Decimal("41000.5"),
    amount=Decimal("0.002"),
    fee=Decimal("0.000002"),
    fee_currency="BTC",
    timestamp=1_700_000_000_000,
)


def test_the_report_carries_the_trade_and_where_the_order_stands() -> None:
    report = fill_report(TRADE, order_filled=Decimal("0.003"), order_closed=True)

    assert report == FillReport(
        client_order_id="g1L3B0",
        symbol="BTC/USDT",
        side=Side.BUY,
        price=Decimal("41000.5"),
        amount=Decimal("0.002"),
        fee=Decimal("0.000002"),
        fee_currency="BTC",
        trade_id="t1",
        timestamp=1_700_000_000_000,
        order_filled=Decimal("0.003"),
        order_closed=True,
        fee_quote=None,
    )


@pytest.mark.parametrize(
    ("trade_cid", "given", "expected"),
    [
        ("g1L3B0", None, "g1L3B0"),  # the trade's own id
        (None, "g2L1S4", "g2L1S4"),  # the caller knows the order (backtest, tracked order)
        ("g1L3B0", "g2L1S4", "g2L1S4"),  # the caller's id wins
        (None, None, ""),  # the exchange echoed none
    ],
)
def test_the_client_order_id_comes_from_the_caller_or_the_trade(
    trade_cid: str | None, given: str | None, expected: str
) -> None:
    trade = msgspec.structs.replace(TRADE, client_order_id=trade_cid)

    report = fill_report(
        trade, order_filled=trade.amount, order_closed=False, client_order_id=given
    )

    assert report.client_order_id == expected


def test_a_third_asset_fee_keeps_its_quote_value() -> None:
    bnb = msgspec.structs.replace(TRADE, fee_currency="BNB")

    report = fill_report(bnb, order_filled=bnb.amount, order_closed=True, fee_quote=Decimal("0.03"))

    assert (report.fee_currency, report.fee_quote) == ("BNB", Decimal("0.03"))
