"""order_request: what a create request sends, decided before anything is sent (rounding,
minimums, the client id and its venue form). A hand-written client stands in for ccxt's
own rounding; nothing is sent."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from gridsup.exchange import errors
from gridsup.exchange.ccxt.create import OrderRequest, order_request
from gridsup.exchange.ccxt.dialects import dialect_for
from gridsup.messages.common import OrderType, Side
from gridsup.messages.market import MarketInfo
from gridsup.strategy.ids import make_client_order_id
from helpers import BTC_USDT

D = Decimal


class RoundingClient:
    """ccxt's own rounding, for a market without steps: to 3 decimals, as text."""

    def amount_to_precision(self, symbol: str, amount: str) -> str:
        return str(D(amount).quantize(D("0.001")))

    def price_to_precision(self, symbol: str, price: str) -> str:
        return str(D(price).quantize(D("0.1")))


def make(
    amount: str,
    price: str | None,
    *,
    reference: str | None = None,
    cid: str | None = "grid1B3c1",
    venue: str = "binance",
    market: MarketInfo = BTC_USDT,
    side: Side = Side.BUY,
) -> OrderRequest:
    """The request of a limit order (a market order without ``price``)."""
    return order_request(
        RoundingClient(),
        dialect_for(venue),
        market,
        market.symbol,
        side,
        OrderType.LIMIT if price is not None else OrderType.MARKET,
        D(amount),
        None if price is None else D(price),
        D(reference or price or "0"),
        cid,
    )


def test_a_limit_order_is_rounded_to_the_market_and_sent_as_plain_text() -> None:
    request = make("0.000123456", "50000.019")

    assert (request.amount, request.price) == ("0.00012", "50000.02")
    assert request.params == {"clientOrderId": "grid1B3c1"}
    assert request.sent() == {
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "amount": "0.00012",
        "price": "50000.02",
    }


def test_a_market_order_sends_no_price_and_is_checked_at_the_reference() -> None:
    with pytest.raises(errors.BelowMinimum):
        make("0.0001", None, reference="100", side=Side.SELL)

    request = make("0.0001", None, reference="60000", side=Side.SELL)

    assert (request.amount, request.price) == ("0.00010", None)


def test_without_steps_ccxt_rounds() -> None:
    market = msgspec.structs.replace(BTC_USDT, price_step=None, amount_step=None)

    request = make("0.12345", "50000.06", market=market)

    assert (request.amount, request.price) == ("0.123", "50000.1")


def test_without_a_client_id_one_is_generated() -> None:
    request = make("0.001", "50000", cid=None)

    assert len(request.client_order_id) == 32 and request.client_order_id.isalnum()
    assert request.params == {"clientOrderId": request.client_order_id}


def test_a_client_id_the_venue_refuses_is_refused_before_sending() -> None:
    with pytest.raises(errors.InvalidOrder, match="refused before sending"):
        make("0.001", "50000", cid="x" * 40, venue="okx")


def test_the_client_id_is_sent_in_the_venues_form() -> None:
    ours = make_client_order_id("btc-grid", 3, Side.BUY, 1)

    request = make("0.001", "50000", cid=ours, venue="kraken")

    sent = dialect_for("kraken").encode_client_id(ours)
    assert sent != ours  # Kraken takes a short UUID
    assert request.client_order_id == ours
    assert request.params == {"clientOrderId": sent}
