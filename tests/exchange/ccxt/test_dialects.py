"""The venue dialects as data: every venue takes our longest client ids, Kraken's
short-UUID form round-trips exactly, an exchange without a dialect is refused with
the reason named, and each venue's own codes map into our refusal classes."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from gridsup.exchange import errors
from gridsup.exchange.ccxt.dialects import DIALECTS, dialect_for, trading_refusal
from gridsup.exchange.ccxt.dialects.kraken import decode_cl_ord_id, encode_cl_ord_id
from gridsup.exchange.ccxt.errors import map_ccxt_error
from gridsup.messages.common import Side
from gridsup.strategy.ids import MAX_CYCLE, MAX_LEVEL, make_client_order_id, parse_client_order_id

IDS = [
    make_client_order_id("btc-grid", 0, Side.BUY, 0),
    make_client_order_id("btc-grid", 17, Side.SELL, 123456),
    make_client_order_id("a much longer grid name", MAX_LEVEL, Side.SELL, MAX_CYCLE),
]
ALL_HAS = dict.fromkeys(
    (
        "createOrder",
        "cancelOrder",
        "fetchOpenOrders",
        "fetchMyTrades",
        "fetchBalance",
        "fetchOrder",
    ),
    True,
)


@pytest.mark.parametrize("venue", sorted(DIALECTS))
@pytest.mark.parametrize("client_id", IDS)
def test_every_venue_takes_our_ids_and_gives_them_back(venue: str, client_id: str) -> None:
    dialect = DIALECTS[venue]
    sent = dialect.encode_client_id(client_id)
    assert dialect.client_id_problem(client_id) is None
    assert len(sent) <= dialect.client_id_max
    assert dialect.decode_client_id(sent) == client_id


@pytest.mark.parametrize("client_id", IDS)
def test_kraken_sends_our_ids_as_a_short_uuid(client_id: str) -> None:
    sent = encode_cl_ord_id(client_id)
    hyphenated = f"{sent[:8]}-{sent[8:12]}-{sent[12:16]}-{sent[16:20]}-{sent[20:]}"
    assert len(sent) == 32 and int(sent, 16) >= 0
    assert decode_cl_ord_id(hyphenated) == client_id
    assert parse_client_order_id(decode_cl_ord_id(sent)) == parse_client_order_id(client_id)


@pytest.mark.parametrize(
    "foreign", ["manualorder1", "123", "6d1b345e282140e2ad834ecb18a06876", "x" * 40]
)
def test_kraken_leaves_foreign_ids_alone(foreign: str) -> None:
    assert decode_cl_ord_id(foreign) == foreign
    assert encode_cl_ord_id(foreign) == foreign


@pytest.mark.parametrize(
    ("venue", "client_id", "problem"),
    [
        ("okx", "has-dash-1", "must match"),
        ("okx", "a" * 33, "at most 32"),
        ("bybit", "a" * 37, "at most 36"),
        ("kraken", "freetext19charslong", "must match"),
        ("binance", "a" * 37, "at most 36"),
    ],
)
def test_ids_a_venue_would_refuse_are_named(venue: str, client_id: str, problem: str) -> None:
    found = DIALECTS[venue].client_id_problem(client_id)
    assert found is not None and problem in found


def test_an_exchange_without_a_dialect_is_refused_even_with_every_flag() -> None:
    refusal = trading_refusal("bitstamp", ALL_HAS)
    assert refusal is not None and refusal.startswith("bitstamp: cannot trade safely")
    assert "no dialect" in refusal and "okx" in refusal
    assert dialect_for("bitstamp").name == "unverified"


def test_missing_flags_and_precision_are_each_named() -> None:
    has = {**ALL_HAS, "fetchMyTrades": False, "fetchOrder": False}
    refusal = trading_refusal("okx", has, {"market BTC/USDT price": None})
    assert refusal is not None
    assert "ccxt has no fetchMyTrades" in refusal
    assert "fetchOrder" in refusal and "market BTC/USDT price has no precision" in refusal
    assert trading_refusal("okx", ALL_HAS, {"market BTC/USDT price": "0.1"}) is None


DUP, BUSY, RATE = errors.DuplicateOrder, errors.ExchangeUnavailable, errors.RateLimited
CODES = [
    ("okx", ccxt.InvalidOrder('okx {"code":"1","data":[{"sCode":"51016"}]}'), DUP),
    ("okx", ccxt.ExchangeError('okx {"code":"50013","msg":"Systems are busy"}'), BUSY),
    ("okx", ccxt.ExchangeError('okx {"code":"500130"}'), errors.ExchangeError),
    ("bybit", ccxt.BadRequest('bybit {"retCode":170141}'), DUP),
    ("bybit", ccxt.ExchangeError('bybit {"retCode":10006}'), RATE),
    ("kraken", ccxt.ExchangeError('kraken {"error":["EService:Busy"]}'), BUSY),
    ("kraken", ccxt.InvalidOrder('kraken {"error":["EOrder:Duplicate order"]}'), DUP),
    ("kraken", ccxt.InvalidNonce('kraken {"error":["EAPI:Invalid nonce"]}'), BUSY),
    ("bybit", ccxt.OrderNotFound('bybit {"retCode":170213}'), errors.OrderNotFound),
]


@pytest.mark.parametrize(("venue", "exc", "expected"), CODES)
def test_venue_codes_map_into_our_refusal_classes(
    venue: str, exc: Exception, expected: type[errors.ExchangeError]
) -> None:
    mapped = map_ccxt_error(exc, None, DIALECTS[venue])
    assert type(mapped) is expected or (
        expected is errors.ExchangeUnavailable and isinstance(mapped, expected)
    )
