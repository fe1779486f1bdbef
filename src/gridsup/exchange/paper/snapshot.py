"""The paper account's snapshot wire format, apart from the matching engine.

:func:`encode` writes an account's parts (:class:`AccountParts`) as version 2 (msgpack,
orders and trades as arrays of their fields); :func:`decode` reads bytes of version 2
or version 1 (the JSON of earlier releases) back into the same neutral parts, which
``PaperExchange.restore`` turns into an account. :func:`encode_v1` writes version 1,
which the exchange no longer writes: it is kept so that the tests and the bench can
produce what the previous release wrote.

A store that saves the account often (the execution actor, on every fill and placement
batch) saves it *split* instead (version 3, :func:`encode_split` / :func:`decode_split`):
its orders and trades in :data:`BUCKETS` buckets by symbol, each its own document, and
the rest (the *core*: balances, counters, settings) in one more that names the version
of every bucket. Only the buckets whose symbols changed since the last save are encoded and
written again, so a save costs what changed rather than the whole account.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Generic, TypeVar

import msgspec
from msgspec.structs import asdict, astuple

from gridsup.exchange.paper.book import PaperOrder
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

__all__ = [
    "BUCKETS",
    "SNAPSHOT_VERSION",
    "SPLIT_VERSION",
    "AccountParts",
    "bucket_of",
    "decode",
    "decode_split",
    "encode",
    "encode_split",
    "encode_v1",
    "split_buckets",
]

SNAPSHOT_VERSION = 2
SPLIT_VERSION = 3
# Orders are split by symbol into this many buckets (crc32 of the symbol): a fixed
# number of documents to load at a start, however many markets the account trades.
BUCKETS = 32
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


class _CoreV3(_Fields[_OrderRow, _TradeRow], tag_field="version", tag=SPLIT_VERSION):
    """A split snapshot's core: every part but the orders and trades (both stay empty),
    and ``buckets``: the save version each bucket was last written at."""

    buckets: dict[int, int] = msgspec.field(default_factory=dict)


class _BucketV3(msgspec.Struct, tag_field="version", tag=SPLIT_VERSION):
    """One bucket of a split snapshot: the orders (open or kept finished) of the
    symbols of ``bucket`` in creation order, and their trades in time order, each with
    its number among all the account's trades; as written at save version ``written``."""

    bucket: int
    written: int
    orders: list[_OrderRow]
    trades: list[tuple[int, _TradeRow]]


_encoder = msgspec.msgpack.Encoder()
_header_json = msgspec.json.Decoder(_Header)  # version 1 was JSON: it starts with "{"
_header_msgpack = msgspec.msgpack.Decoder(_Header)
_decoder_v1 = msgspec.json.Decoder(_SnapshotV1)
_decoder_v2 = msgspec.msgpack.Decoder(_SnapshotV2)


class _CoreBucketsV3(msgspec.Struct, tag_field="version", tag=SPLIT_VERSION):
    """A split snapshot's core read for its bucket versions alone (the rest skipped)."""

    buckets: dict[int, int]


_decoder_core = msgspec.msgpack.Decoder(_CoreV3)
_decoder_core_buckets = msgspec.msgpack.Decoder(_CoreBucketsV3)
_decoder_bucket = msgspec.msgpack.Decoder(_BucketV3)


def bucket_of(symbol: str) -> int:
    """The bucket of a split snapshot that holds ``symbol``'s orders (stable across
    processes and releases: crc32, not Python's salted ``hash``)."""
    return zlib.crc32(symbol.encode()) % BUCKETS


def encode(parts: AccountParts) -> bytes:
    """``parts`` as version 2: msgpack, orders and trades as arrays of their fields."""
    fields = asdict(parts)  # the snapshot's own fields ("version" is its tag)
    fields["orders"] = [astuple(o) for o in parts.orders]
    fields["trades"] = [astuple(t) for t in parts.trades]
    return _encoder.encode(_SnapshotV2(**fields))


def encode_split(
    parts: AccountParts, dirty: Collection[int], version: int, written: dict[int, int]
) -> tuple[bytes, dict[int, bytes]]:
    """``parts`` split (version 3): the core, and the buckets ``dirty`` (those whose
    symbols changed since the last save), encoded at save ``version``.

    ``written`` (bucket -> the version it was last written at) is the caller's record of
    what the store holds; the dirty buckets are entered at ``version`` and the core
    names them all, so that :func:`decode_split` can tell a bucket that is missing or
    stale from the store. A dirty bucket with nothing left is written empty. A trade's
    number counts the account's trades from its first (``next_trade`` is the next's):
    trades are only ever appended, and forgotten from the oldest, so it never changes.
    """
    orders: dict[int, list[_OrderRow]] = {b: [] for b in dirty}
    trades: dict[int, list[tuple[int, _TradeRow]]] = {b: [] for b in dirty}
    if orders:
        # symbol -> its bucket, when that bucket is written
        into: dict[str, int | None] = {}
        for order in parts.orders:
            bucket = _written_bucket(into, order.symbol, orders)
            if bucket is not None:
                orders[bucket].append(astuple(order))
        first = parts.next_trade - len(parts.trades)
        for n, trade in enumerate(parts.trades, first):
            bucket = _written_bucket(into, trade.symbol, orders)
            if bucket is not None:
                trades[bucket].append((n, astuple(trade)))
    for b in orders:
        written[b] = version
    fields = asdict(parts)
    fields["orders"] = fields["trades"] = []
    core = _encoder.encode(_CoreV3(**fields, buckets=dict(sorted(written.items()))))
    return core, {
        b: _encoder.encode(_BucketV3(bucket=b, written=version, orders=rows, trades=trades[b]))
        for b, rows in sorted(orders.items())
    }


def _written_bucket(
    into: dict[str, int | None], symbol: str, buckets: Mapping[int, object]
) -> int | None:
    """``symbol``'s bucket if it is one of ``buckets``, else None (memoised in ``into``)."""
    if symbol not in into:
        bucket = bucket_of(symbol)
        into[symbol] = bucket if bucket in buckets else None
    return into[symbol]


def split_buckets(data: bytes) -> dict[int, int] | None:
    """The buckets (bucket -> version) a split snapshot's core names; None when
    ``data`` is a whole snapshot (version 1 or 2), which restores alone.

    Raises:
        ValueError: not a snapshot, or a version this code does not know.
    """
    if data[:1] == b"{":
        return None  # version 1: JSON, whole
    try:
        version = _header_msgpack.decode(data).version
        if version == SPLIT_VERSION:
            return _decoder_core_buckets.decode(data).buckets
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a paper exchange snapshot: {exc}") from exc
    return None


def decode_split(core: bytes, buckets: Mapping[int, bytes]) -> AccountParts:
    """The account parts of a split snapshot: its ``core`` and the ``buckets`` it names
    (bucket -> bytes), orders back in creation order.

    Raises:
        ValueError: not a split snapshot, or a bucket the core names is missing, is
            not that bucket, or is of another save than the core says (a store that
            lost a write: never restore an account that mixes two saves).
    """
    try:
        head = _decoder_core.decode(core)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a split paper exchange snapshot: {exc}") from exc
    orders: list[_OrderRow] = []
    trades: list[tuple[int, _TradeRow]] = []
    for bucket, version in head.buckets.items():
        data = buckets.get(bucket)
        if data is None:
            raise ValueError(f"paper snapshot bucket {bucket} is missing (core names {version})")
        try:
            part = _decoder_bucket.decode(data)
        except msgspec.DecodeError as exc:
            raise ValueError(f"paper snapshot bucket {bucket}: {exc}") from exc
        if part.bucket != bucket or part.written != version:
            raise ValueError(
                f"paper snapshot bucket {bucket} holds bucket {part.bucket} of save "
                f"{part.written}; its core names save {version}"
            )
        orders.extend(part.orders)
        trades.extend(part.trades)
    orders.sort(key=lambda row: row[1])  # seq: creation order
    trades.sort(key=lambda numbered: numbered[0])
    first = head.next_trade - len(trades)
    if [n for n, _ in trades] != list(range(first, head.next_trade)):
        raise ValueError(
            f"paper snapshot trades do not follow on: {len(trades)} trades in the buckets, "
            f"numbered {trades[0][0] if trades else None}..{trades[-1][0] if trades else None}"
            f", the next is {head.next_trade}"
        )
    fields = asdict(head)
    del fields["buckets"]
    fields["orders"] = [_order(row) for row in orders]
    fields["trades"] = [_trade(row) for _, row in trades]
    return AccountParts(**fields)


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
    if not json and version == SPLIT_VERSION:
        raise ValueError(
            "a split paper snapshot (version 3) holds no orders alone: "
            "restore it with its buckets (decode_split)"
        )
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
