"""Kraken spot REST: a client order id is ``cl_ord_id`` (ccxt sends ``clientOrderId``
as it). Kraken takes a UUID, a 32-hex "short UUID" or free text of at most 18
characters, and checks uniqueness only among OPEN orders. Our ids are up to 32
letters and digits, so they are sent as a short UUID that decodes back to our id
exactly (no table to keep): ``6773`` ("gs") + grid tag (8 hex) + side (0 buy, 1
sell) + level (3 digits) + cycle (16 hex). ``userref`` (an int32) is not used."""

from __future__ import annotations

import re

from gridsup.exchange.ccxt.dialects.base import ClientIdLookup, Dialect, FeeAsset
from gridsup.messages.common import Side
from gridsup.strategy.ids import (
    make_client_order_id_for_tag,
    parse_client_order_id,
)

_MARK = "6773"  # "gs" in ASCII hex
_SIDE_NIBBLE = {Side.BUY: "0", Side.SELL: "1"}
_NIBBLE_SIDE = {v: k for k, v in _SIDE_NIBBLE.items()}
_OURS = re.compile(rf"{_MARK}([0-9a-f]{{8}})([01])([0-9]{{3}})([0-9a-f]{{16}})")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def encode_cl_ord_id(client_id: str) -> str:
    """Our id as a 32-hex cl_ord_id; any other id is sent as it is."""
    parsed = parse_client_order_id(client_id)
    if parsed is None:
        return client_id
    return (
        f"{_MARK}{parsed.grid_tag}{_SIDE_NIBBLE[parsed.side]}{parsed.level:03d}{parsed.cycle:016x}"
    )


def decode_cl_ord_id(venue_id: str) -> str:
    """A cl_ord_id back as our id (a hyphenated UUID form too); others unchanged."""
    text = venue_id.replace("-", "") if _UUID.fullmatch(venue_id) else venue_id
    match = _OURS.fullmatch(text)
    if match is None:
        return venue_id
    tag, side, level, cycle = match.groups()
    return make_client_order_id_for_tag(tag, int(level), _NIBBLE_SIDE[side], int(cycle, 16))


KRAKEN = Dialect(
    id="kraken",
    name="Kraken",
    api="spot REST (/0/public, /0/private)",
    client_id_field="cl_ord_id",
    client_id_max=32,
    # a short UUID (32 hex) or free text of at most 18 characters
    client_id_pattern=r"[0-9a-f]{32}|[A-Za-z0-9]{1,18}",
    lookup=ClientIdLookup.OPEN_THEN_FINISHED,
    buy_fee=FeeAsset.QUOTE,
    sell_fee=FeeAsset.QUOTE,
    rate_limit="a call counter per key (max 15-20, decays 0.33-1 per s), an order "
    "rate counter per pair; EAPI:Rate limit exceeded / EGeneral:Too many requests",
    temporary_codes=(
        "EService:Unavailable",
        "EService:Busy",
        "EService:Deadline elapsed",
        "EGeneral:Internal error",
    ),
    rate_limit_codes=(
        "EAPI:Rate limit exceeded",
        "EOrder:Rate limit exceeded",
        "EGeneral:Too many requests",
    ),
    duplicate_codes=("EOrder:Duplicate order",),
    encode=encode_cl_ord_id,
    decode=decode_cl_ord_id,
    verified=(
        "full grid cycle through ccxt's kraken class against the loopback's Kraken "
        "dialect (API-Key/API-Sign with nonce)",
        "our ids round-trip through cl_ord_id as a 32-hex short UUID; an order is "
        "found by it in OpenOrders and ClosedOrders; a restarted client finds them",
        "lost create answers settled by cl_ord_id, rate limits and 5xx retried: one "
        "order per client id",
        "ccxt's recorded Kraken answers parse into our orders (fee in quote)",
    ),
    notes=(
        "cl_ord_id uniqueness is checked among open orders only: a re-sent create of a "
        "filled order would be accepted, so the loopback accepts it too and gridsup "
        "always looks the id up (open and closed) before any re-send",
        "fees in quote (Kraken's default for spot, oflags fciq)",
        "a short UUID may be echoed back hyphenated; both forms decode",
    ),
)
