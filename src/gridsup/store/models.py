"""SQLAlchemy 2.0 models: what gridsup remembers across restarts.

Columns are named by provenance: ``exchange_*`` fields mirror what the exchange said,
the rest is ours. Exchange times are integer ms since the epoch (as on the wire); the
``created_at``/``updated_at`` bookkeeping of the timestamp mixin is a UTC datetime.

Idempotency lives in unique keys, so a message delivered twice is stored once:
an order by (exchange, client_order_id), a fill by (exchange, symbol, trade_id) (Binance
numbers trades per symbol, so a trade id alone repeats across markets), an order event
by its optional ``event_key``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.store.coltypes import EnumValue, Money, UTCDateTime
from gridsup.store.records import OrderEventKind

# Deterministic constraint names, so Alembic can name, diff and drop them on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Order(TimestampMixin, Base):
    """One order as we last know it (one row per client order id, updated in place)."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("uq_orders_exchange_client_order_id", "exchange", "client_order_id", unique=True),
        Index("ix_orders_strategy_status", "strategy", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(32))
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    strategy: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[Side] = mapped_column(EnumValue(Side))
    type: Mapped[OrderType] = mapped_column(EnumValue(OrderType))
    status: Mapped[OrderStatus] = mapped_column(EnumValue(OrderStatus), index=True)
    price: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    amount: Mapped[Decimal] = mapped_column(Money())
    filled: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    average: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    fee: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    fee_currency: Mapped[str | None] = mapped_column(String(16), default=None)
    level: Mapped[int | None] = mapped_column(Integer, default=None)
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)  # placed, ms


class Fill(TimestampMixin, Base):
    """One execution of one order (the exchange's "trade"), stored once."""

    __tablename__ = "fills"
    __table_args__ = (
        Index("uq_fills_exchange_symbol_trade_id", "exchange", "symbol", "trade_id", unique=True),
        Index("ix_fills_exchange_client_order_id", "exchange", "client_order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(32))
    trade_id: Mapped[str] = mapped_column(String(64))
    exchange_order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # No foreign key to orders: a fill may arrive before its order row (at-least-once
    # delivery over two channels) and must still be stored.
    client_order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    strategy: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[Side] = mapped_column(EnumValue(Side))
    price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    fee_currency: Mapped[str | None] = mapped_column(String(16), default=None)
    taker: Mapped[bool] = mapped_column(Boolean, default=False)
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)


class Trade(TimestampMixin, Base):
    """A round trip of a grid: an entry fill and, once closed, the counter order's exit."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_strategy_is_open", "strategy", "is_open"),
        # A booked cycle is stored once (RecordTrade re-sends); open trades (no close
        # order yet) do not collide: NULLs are distinct in a unique index.
        Index(
            "uq_trades_exchange_strategy_close_order_id",
            "exchange",
            "strategy",
            "close_order_id",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(32))
    strategy: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[Side] = mapped_column(EnumValue(Side))  # side of the entry
    amount: Mapped[Decimal] = mapped_column(Money())
    open_price: Mapped[Decimal] = mapped_column(Money())
    open_order_id: Mapped[str | None] = mapped_column(String(64), default=None)  # client id
    opened_at: Mapped[int] = mapped_column(BigInteger, index=True)
    close_price: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    close_order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    closed_at: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    fee: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))  # in quote, both legs
    profit: Mapped[Decimal | None] = mapped_column(Money(), default=None)  # net of fees
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)


class StrategyState(TimestampMixin, Base):
    """The last saved state of one strategy (one row per strategy, upserted)."""

    __tablename__ = "strategy_states"

    strategy: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # the state's schema version
    revision: Mapped[int] = mapped_column(BigInteger)  # +1 on every save
    state: Mapped[str] = mapped_column(Text)  # JSON
    # The fencing token of the incarnation that wrote it (its grid lease's epoch): a save
    # with a lower epoch is a dead incarnation's late write and is refused.
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class GridLease(Base):
    """Who runs a grid now: one row per grid, its ``epoch`` +1 at every (re)start of its
    strategy actor (the fencing token of that incarnation's writes)."""

    __tablename__ = "grid_leases"

    grid: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(64))  # cluster member, or the host alone
    host: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    renewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClusterMember(Base):
    """A supervisor of a cluster (``gridsup start --cluster``) and its last heartbeat."""

    __tablename__ = "cluster_members"

    member: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    leaving: Mapped[bool] = mapped_column(Boolean, default=False)  # graceful stop under way


class GridPin(Base):
    """``gridsup move GRID MEMBER``: the grid runs on that member while it is live."""

    __tablename__ = "grid_pins"

    grid: Mapped[str] = mapped_column(String(64), primary_key=True)
    member: Mapped[str] = mapped_column(String(64))
    pinned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GridPause(Base):
    """A grid paused on request (``gridsup pause``, the dashboard): its actor places no
    order until it is resumed, across restarts of the actor and of the supervisor. One
    row per paused grid (its grid id); a resume deletes it."""

    __tablename__ = "grid_pauses"

    grid: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paused_by: Mapped[str] = mapped_column(String(64))  # token id, "loopback" or "cli"
    reason: Mapped[str] = mapped_column(Text, default="")


class BalanceSnapshot(TimestampMixin, Base):
    """Free and used amount of one asset of one account at one time."""

    __tablename__ = "balance_snapshots"
    __table_args__ = (
        Index("ix_balance_snapshots_exchange_asset_ts", "exchange", "asset", "timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    free: Mapped[Decimal] = mapped_column(Money())
    used: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    timestamp: Mapped[int] = mapped_column(BigInteger)


class OrderEvent(Base):
    """Append-only log of everything that happened to orders, in arrival order.

    Never updated: ``id`` is the order of arrival. ``event_key`` (optional, unique)
    makes a redelivered event a no-op, e.g. "<exchange>:<strategy>:<sequence>".
    """

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_strategy_id", "strategy", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    exchange: Mapped[str] = mapped_column(String(32))
    strategy: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[OrderEventKind] = mapped_column(EnumValue(OrderEventKind, 24))
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RetiredClientId(Base):
    """A client id whose order a paper account has forgotten (its bounded history moved
    on): append-only, one row per (account, id), so a placement re-sent under it is
    still refused. ``slot``/``cycle`` split one of our ids (``strategy.ids``: the slot
    it names, the slot's order count); both are NULL for a foreign id."""

    __tablename__ = "retired_client_ids"
    __table_args__ = (
        Index("ix_retired_client_ids_account_slot_cycle", "account", "slot", "cycle"),
    )

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[str | None] = mapped_column(String(16), default=None)
    cycle: Mapped[int | None] = mapped_column(BigInteger, default=None)
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """One grid action asked of the supervisor (pause, resume, stop), by whom and with
    what outcome, refused ones included. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # token id, "loopback" or "cli"
    action: Mapped[str] = mapped_column(String(16))
    grid: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(Text, default="")


__all__ = [
    "AuditEntry",
    "BalanceSnapshot",
    "Base",
    "ClusterMember",
    "Fill",
    "GridLease",
    "GridPause",
    "GridPin",
    "Order",
    "OrderEvent",
    "OrderEventKind",
    "RetiredClientId",
    "StrategyState",
    "TimestampMixin",
    "Trade",
]
