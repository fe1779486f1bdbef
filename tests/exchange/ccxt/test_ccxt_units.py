"""The pure parts of the ccxt adapter: error mapping, retry policy, rounding, number
conversion. Tables in, outcomes out."""

from __future__ import annotations

from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from gridsup.exchange import errors
from gridsup.exchange.ccxt.convert import to_decimal, to_market, to_order
from gridsup.exchange.ccxt.errors import (
    TimestampRejected,
    ambiguous_on_create,
    map_ccxt_error,
    parse_retry_after,
)
from gridsup.exchange.precision import prepare_order, round_amount, round_price
from gridsup.exchange.retry import RetryPolicy
from gridsup.messages.common import OrderStatus
from helpers import BTC_USDT

D = Decimal


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ccxt.DuplicateOrderId("x"), errors.DuplicateOrder),
        (
            ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'),
            errors.DuplicateOrder,
        ),
        (ccxt.OrderNotFound("x"), errors.OrderNotFound),
        (ccxt.InsufficientFunds("x"), errors.InsufficientFunds),
        (ccxt.BadSymbol("x"), errors.BadSymbol),
        (ccxt.InvalidOrder("Filter failure: LOT_SIZE"), errors.InvalidOrder),
        (ccxt.BadRequest("x"), errors.InvalidOrder),
        (ccxt.AuthenticationError("x"), errors.AuthenticationError),
        (ccxt.PermissionDenied("x"), errors.AuthenticationError),
        (ccxt.RateLimitExceeded("x"), errors.RateLimited),
        (ccxt.DDoSProtection("x"), errors.RateLimited),
        (ccxt.InvalidNonce("x"), TimestampRejected),
        (ccxt.RequestTimeout("x"), errors.ExchangeUnavailable),
        (ccxt.ExchangeNotAvailable("x"), errors.ExchangeUnavailable),
        (ccxt.OnMaintenance("x"), errors.ExchangeUnavailable),
        (ccxt.NetworkError("x"), errors.ExchangeUnavailable),
        (ccxt.NotSupported("x"), errors.ExchangeError),
    ],
)
def test_ccxt_errors_map_to_ours(exc: Exception, expected: type[errors.ExchangeError]) -> None:
    mapped = map_ccxt_error(exc)

    assert type(mapped) is expected


def test_rate_limit_carries_retry_after_from_headers() -> None:
    mapped = map_ccxt_error(ccxt.DDoSProtection("429"), {"retry-after": "7"})

    assert isinstance(mapped, errors.RateLimited) and mapped.retry_after == 7.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("-5", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),  # an HTTP date, 10 s after "now"
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = 1445412480.0  # 2015-10-21 07:28:00 UTC

    assert parse_retry_after(header, now=now) == seconds


@pytest.mark.parametrize(
    ("error", "ambiguous"),
    [
        (errors.ExchangeUnavailable("timeout"), True),
        (TimestampRejected("-1021"), False),
        (errors.RateLimited("429"), False),
        (errors.InvalidOrder("no"), False),
    ],
)
def test_which_create_failures_leave_the_outcome_unknown(
    error: errors.ExchangeError, ambiguous: bool
) -> None:
    assert ambiguous_on_create(error) is ambiguous


@pytest.mark.parametrize(
    ("retry", "error", "delay"),
    [
        (1, errors.ExchangeUnavailable("x"), 0.5),
        (2, errors.ExchangeUnavailable("x"), 1.0),
        (3, errors.ExchangeUnavailable("x"), 2.0),
        (4, errors.ExchangeUnavailable("x"), 3.0),  # capped at max_delay
        (5, errors.ExchangeUnavailable("x"), None),  # attempts spent
        (1, errors.RateLimited("x", retry_after=9), 9.0),  # Retry-After wins
        (1, errors.RateLimited("x", retry_after=61), None),  # beyond max_retry_after
        (1, errors.RateLimited("x"), 0.5),
    ],
)
def test_retry_policy_delays(retry: int, error: errors.ExchangeError, delay: float | None) -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.5, multiplier=2, max_delay=3, max_retry_after=60)

    assert policy.delay(retry, error) == delay


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("price", "rounded"),
    [
        (D("41000.004"), D("41000.00")),
        (D("41000.005"), D("41000.01")),  # half up, as ccxt's price_to_precision
        (D("41000.0149"), D("41000.01")),
        (D("0.004"), D("0")),
    ],
)
def test_round_price(price: D, rounded: D) -> None:
    assert round_price(BTC_USDT, price) == rounded


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [(D("0.0012399"), D("0.00123")), (D("1"), D("1.00000")), (D("0.000009"), D("0"))],
)
def test_round_amount_never_rounds_up(amount: D, rounded: D) -> None:
    assert round_amount(BTC_USDT, amount) == rounded


@pytest.mark.parametrize(
    ("amount", "price", "reference", "message"),
    [
        (D("0.0001"), D("41000"), None, "minimum notional 5"),
        (D("0.000009"), D("41000"), None, "minimum amount 0.00001"),
        (D("0.0001"), None, D("41000"), "minimum notional 5"),  # market order: last price
        (D("-1"), D("41000"), None, "must be positive"),
    ],
)
def test_prepare_order_refuses_below_minimum(
    amount: D, price: D | None, reference: D | None, message: str
) -> None:
    with pytest.raises(errors.InvalidOrder, match=message):
        prepare_order(BTC_USDT, amount, price, reference)


def test_prepare_order_rounds_then_accepts() -> None:
    assert prepare_order(BTC_USDT, D("0.0002999"), D("41000.006")) == (D("0.00029"), D("41000.01"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("43519.34000000", D("43519.34")),
        (0.1, D("0.1")),  # through repr, never the binary expansion
        (5, D(5)),
        (None, None),
        ("", None),
    ],
)
def test_to_decimal(value: object, expected: D | None) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value", ["abc", "NaN", True, [1]])
def test_to_decimal_refuses_non_numbers(value: object) -> None:
    with pytest.raises(errors.ExchangeError):
        to_decimal(value, "price")


@pytest.mark.parametrize(
    ("mode", "precision", "price_step"),
    [(4, "0.01000000", D("0.01")), (2, 2, D("0.01")), (3, 5, None)],
    ids=["TICK_SIZE", "DECIMAL_PLACES", "SIGNIFICANT_DIGITS"],
)
def test_market_steps_follow_the_precision_mode(
    mode: int, precision: object, price_step: D | None
) -> None:
    market = to_market(
        {
            "symbol": "X/USDT",
            "base": "X",
            "quote": "USDT",
            "precision": {"price": precision, "amount": precision},
            "limits": {"amount": {"min": "0.1"}, "cost": {"min": "5"}},
            "maker": 0.001,
            "taker": 0.001,
        },
        mode,
    )

    assert market.price_step == price_step
    assert (market.min_amount, market.min_notional) == (D("0.1"), D("5"))


def test_order_without_status_is_closed_when_filled() -> None:
    order = to_order(
        {
            "id": "1",
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "limit",
            "price": "100",
            "amount": "1",
            "filled": "1",
            "status": None,
        }
    )

    assert order.status is OrderStatus.CLOSED
