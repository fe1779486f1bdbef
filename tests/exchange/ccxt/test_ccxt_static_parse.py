"""Real answers ccxt recorded from Binance, OKX and Bybit (../shared/data/ccxt-static)
parse through our conversion (``ccxt_convert``) into our Order and Trade records with
the right fee asset and amount: Binance's orders, cancels and trades; OKX and Bybit buys
whose commission is charged in the base asset; a Bybit order partially filled then
cancelled. (Binance's BNB commissions are checked against the loopback, which follows
the documented ``commission``/``commissionAsset`` fields: no recorded answer has one.)"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from gridsup.exchange.ccxt.convert import to_order, to_trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from helpers import shared_data

D = Decimal


def parsed(exchange: str, method: str, index: int = 0) -> Any:
    data = json.loads(shared_data(f"ccxt-static/{exchange}.json").read_text())
    return data["responses"][method][index]["parsedResponse"]


def num(value: object) -> Decimal:
    return D(repr(value)) if isinstance(value, float) else D(str(value))


@pytest.mark.parametrize(
    ("exchange", "index", "side", "fee", "asset"),
    [
        ("binance", 0, Side.SELL, D("0.013926"), "USDT"),  # a sell pays in quote
        ("okx", 0, Side.BUY, D("0.0001"), "LTC"),  # a buy pays in base
        ("bybit", 0, Side.BUY, D("3.36e-07"), "BTC"),
        ("bybit", 1, Side.BUY, D("0.000001"), "ETH"),
    ],
)
def test_recorded_trades_keep_their_fee_asset(
    exchange: str, index: int, side: Side, fee: Decimal, asset: str
) -> None:
    raw = parsed(exchange, "fetchMyTrades", index)[0]

    trade = to_trade(raw)

    assert (trade.side, trade.fee, trade.fee_currency) == (side, fee, asset)
    assert (trade.price, trade.amount) == (num(raw["price"]), num(raw["amount"]))
    assert trade.order_id == str(raw["order"]) and trade.id == str(raw["id"])
    assert trade.taker is (raw["takerOrMaker"] == "taker")


def test_a_binance_filled_market_order() -> None:
    order = to_order(parsed("binance", "fetchOrder"))

    assert (order.status, order.type, order.side) == (
        OrderStatus.CLOSED,
        OrderType.MARKET,
        Side.SELL,
    )
    assert (order.price, order.amount, order.filled) == (None, D("0.1"), D("0.1"))
    assert order.average == D("90.8")  # cummulativeQuoteQty 9.08 / 0.1


def test_binance_open_and_cancelled_orders() -> None:
    opened = to_order(parsed("binance", "fetchOpenOrders")[0])
    cancelled = to_order(parsed("binance", "fetchOrders")[0])

    assert (opened.status, opened.filled) == (OrderStatus.OPEN, D(0))
    assert (cancelled.status, cancelled.filled, cancelled.price) == (
        OrderStatus.CANCELED,
        D(0),
        D("50"),
    )
    assert cancelled.client_order_id == "x-R4BD3S82d1481ae59ba59326d82c8a"


def test_an_okx_buy_order_pays_its_fee_in_base() -> None:
    order = to_order(parsed("okx", "fetchOrder"))

    assert (order.side, order.status, order.filled) == (Side.BUY, OrderStatus.CLOSED, D("0.1"))
    assert (order.fee, order.fee_currency) == (D("0.0001"), "LTC")


def test_a_bybit_order_partially_filled_then_cancelled() -> None:
    raw = parsed("bybit", "fetchOrder", 0)
    assert raw["info"]["orderStatus"] == "PartiallyFilledCanceled"

    order = to_order(raw)

    # ccxt calls it closed; what counts is what was filled and the fee, in base.
    assert order.status is OrderStatus.CLOSED
    assert order.filled == D("0.001614") and order.filled < order.amount
    assert (order.fee, order.fee_currency) == (D("0.000001614"), "BTC")
