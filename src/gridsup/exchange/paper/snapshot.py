"""The paper account's snapshot wire format, apart from the matching engine.

:func:`encode` writes an account's parts (:class:`AccountParts`) as version 2 (msgpack,
orders and trades as arrays of their fields); :func:`decode` reads bytes of version 2
or version 1 (the JSON of earlier releases) back into the same neutral parts, which
``PaperExchange.restore`` turns into an account. :func:`encode_v1` writes version 1,
which the exchange no longer writes: it is kept so that the tests and the bench can
produce what the previous release wrote.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec
from msgspec.structs import asdict, astuple

from gridsup.exchange.paper.book import PaperOrder
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

__all__ = ["SNAPSHOT_VERSION", "AccountParts", "decode", "encode", "encode_v1"]

SNAPSHOT_VERSION = 2
_O = TypeVar("_O")
_T = TypeVar("_T")

# Snapshot version 2 writes each order and trade as a msgpack array of its fields, in
# the order the Struct declares them (``msgspec.structs.astuple``, one C call): the
# field names were half of version 1's JSON. Decimals stay strings (exact).
_OrderRow = tuple[
    str,  # id
    int,  # seq
    str | None,  # client_order_id
    str,  # symbol
    Side,
    OrderType,
    Decimal | None,  # price
    Decimal,  # amount
    int,  # timestamp
    Decimal,  # locked
    OrderStatus,
    Decimal,  # filled
    Decimal,  # cost
    Decimal,  # fee
    str | None,  # fee_currency
]
_TradeRow = tuple[
    str,  # id
    str,  # order_id
    str | None,  # client_order_id
    str,  # symbol
    Side,
    Decimal,  # price
    Decimal,  # amount
    Decimal,  # fee
    str,  # fee_currency
    int,  # timestamp
    bool,  # taker
]


class _Fields(msgspec.Struct, Generic[_O, _T], kw_only=True):
    """The fields of a snapshot, whatever its version, with orders as ``_O`` and trades
    as ``_T`` (the objects, or version 2's wire rows)."""

    markets: list[MarketInfo]
    free: dict[str, Decimal]
    used: dict[str, Decimal]
    orders: list[_O]
    trades: list[_T]
    next_order: int
    next_trade: int
    last_prices: dict[str, Decimal]
    last_timestamp: int
    partial_fills: bool
    volume_share: Decimal
    id_prefix: str
    # Added to version 1 with max_history; defaults keep older snapshots readable.
    max_history: int | None = None
    finished: list[str] = msgspec.field(default_factory=list)
    retired_client_ids: list[str] = msgspec.field(default_factory=list)
    # Added to version 2 with Binance's fee and crossing rules (issue 14); the defaults
    # (the lenient rules) keep snapshots written before them readable, as they were.
    fee_mode: str = "quote"
    bnb_fees: bool = False
    bnb_discount: Decimal = Decimal("0.25")
    taker_on_cross: bool = False
    fill_pieces: int = 1
    # Added to version 2 with per-venue fee rules (issue 16): open orders whose fees
    # follow another mode than ``fee_mode`` (order id -> mode).
    order_fee_modes: dict[str, str] = msgspec.field(default_factory=dict)


class AccountParts(_Fields[PaperOrder, Trade], kw_only=True):
    """What a snapshot holds, whatever its version: orders (in creation order) and
    trades (in time order) as the objects themselves, not wire rows."""


# Fields version 1 never wrote (its decoder takes their defaults).
_ADDED_IN_V2 = frozenset(
    {"fee_mode", "bnb_fees", "bnb_discount", "taker_on_cross", "fill_pieces", "order_fee_modes"}
)


class _Header(msgspec.Struct):
    """The one field every snapshot version has; read first to pick the decoder."""

    version: int


class _SnapshotV1(AccountParts, tag_field="version", tag=1):
    """Version 1 (JSON): the parts as they are, orders and trades as objects, under
    ``"version": 1`` (a tag is written first). Still read, no longer written."""


class _SnapshotV2(_Fields[_OrderRow, _TradeRow], tag_field="version", tag=SNAPSHOT_VERSION):
    """Everything a restarted paper account needs, as one msgpack document: the parts
    under ``"version": 2``, orders and trades as arrays of their fields."""


_encoder = msgspec.msgpack.Encoder()
_header_json = msgspec.json.Decoder(_Header)  # version 1 was JSON: it starts with "{"
_header_msgpack = msgspec.msgpack.Decoder(_Header)
_decoder_v1 = msgspec.json.Decoder(_SnapshotV1)
_decoder_v2 = msgspec.msgpack.Decoder(_SnapshotV2)


def encode(parts: AccountParts) -> bytes:
    """``parts`` as version 2: msgpack, orders and trades as arrays of their fields."""
    fields = asdict(parts)  # the snapshot's own fields ("version" is its tag)
    fields["orders"] = [astuple(o) for o in parts.orders]
    fields["trades"] = [astuple(t) for t in parts.trades]
    return _encoder.encode(_SnapshotV2(**fields))


def encode_v1(parts: AccountParts) -> bytes:
    """``parts`` as version 1 wrote them (JSON, every order and trade an object).

    The exchange no longer writes version 1; this encoder is kept so that the tests
    and the bench can produce what the previous release wrote.
    """
    fields = {k: v for k, v in asdict(parts).items() if k not in _ADDED_IN_V2}
    return msgspec.json.encode({"version": 1, **fields})


def decode(data: bytes) -> AccountParts:
    """The account parts in ``data``, a snapshot of version 2 or 1.

    Raises:
        ValueError: not a snapshot (msgspec names the field), or a version this code
            does not know.
    """
    snap = _decode(data)
    if isinstance(snap, _SnapshotV1):
        return snap
    fields = asdict(snap)
    fields["orders"] = [_order(row) for row in snap.orders]
    fields["trades"] = [_trade(row) for row in snap.trades]
    return AccountParts(**fields)


def _decode(data: bytes) -> _SnapshotV1 | _SnapshotV2:
    """The snapshot in ``data``, of whichever version it is.

    Raises:
        ValueError: not a snapshot, or a version this code does not know.
    """
    json = data[:1] == b"{"
    try:
        version = (_header_json if json else _header_msgpack).decode(data).version
        if json and version == 1:
            return _decoder_v1.decode(data)
        if not json and version == SNAPSHOT_VERSION:
            return _decoder_v2.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a paper exchange snapshot: {exc}") from exc
    encoding = "JSON" if json else "msgpack"
    raise ValueError(
        f"unknown paper snapshot version {version} ({encoding}); "
        f"this gridsup reads version 1 (JSON) and {SNAPSHOT_VERSION} (msgpack)"
    )


def _order(row: _OrderRow) -> PaperOrder:
    """The order a version 2 row holds (unpacked by name: 6x faster than a dict)."""
    (id_, seq, client_id, symbol, side, type_, price, amount, ts, locked, status, filled, cost, fee,
     fee_currency) = row  # fmt: skip
    return PaperOrder(
        id=id_,
        seq=seq,
        client_order_id=client_id,
        symbol=symbol,
        side=side,
        type=type_,
        price=price,
        amount=amount,
        timestamp=ts,
        locked=locked,
        status=status,
        filled=filled,
        cost=cost,
        fee=fee,
        fee_currency=fee_currency,
    )


def _trade(row: _TradeRow) -> Trade:
    """The trade a version 2 row holds."""
    id_, order_id, client_id, symbol, side, price, amount, fee, fee_currency, ts, taker = row
    return Trade(
        id=id_,
        order_id=order_id,
        client_order_id=client_id,
        symbol=symbol,
        side=side,
        price=price,
        amount=amount,
        fee=fee,
        fee_currency=fee_currency,
        timestamp=ts,
        taker=taker,
    )
