"""What the store is asked to write: plain immutable records, built from the wire and
exchange types at this one boundary, so the rest of the store never guesses.

``StoreWrite`` is the union ``write_batch`` accepts (the persistence actor's group
commit turns SaveState/RecordOrderEvent/RecordFill messages into these).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import msgspec

from gridsup.exchange.types import Order as ExchangeOrder
from gridsup.exchange.types import Trade as ExchangeTrade
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType, Side


class OrderEventKind(enum.Enum):
    """What happened to an order, in the order-event log."""

    REQUESTED = "requested"  # we asked the exchange to place it
    ACKNOWLEDGED = "acknowledged"  # the exchange accepted it (it has an exchange id)
    REJECTED = "rejected"  # the exchange refused it
    CANCEL_REQUESTED = "cancel_requested"
    UPDATED = "updated"  # status or filled amount changed
    FILLED = "filled"  # one execution (a fill) of the order
    CANCELED = "canceled"


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An order as we know it now; upserted by (exchange, client_order_id)."""

    exchange: str
    strategy: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    amount: Decimal
    timestamp: int  # ms
    price: Decimal | None = None
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    exchange_order_id: str | None = None
    level: int | None = None

    @classmethod
    def from_intent(
        cls,
        intent: OrderIntent,
        *,
        exchange: str,
        strategy: str,
        timestamp: int,
        level: int | None = None,
    ) -> OrderRecord:
        """A requested order, not yet acknowledged: status OPEN, nothing filled."""
        return cls(
            exchange=exchange,
            strategy=strategy,
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            type=intent.type,
            status=OrderStatus.OPEN,
            amount=intent.amount,
            price=intent.price,
            timestamp=timestamp,
            level=level,
        )

    @classmethod
    def from_order(
        cls, order: ExchangeOrder, *, exchange: str, strategy: str, level: int | None = None
    ) -> OrderRecord:
        """What the exchange reported about one of our orders.

        Raises:
            ValueError: the order carries no client order id (it is not ours).
        """
        if not order.client_order_id:
            raise ValueError(f"order {order.id} has no client order id: not ours to store")
        return cls(
            exchange=exchange,
            strategy=strategy,
            client_order_id=order.client_order_id,
            exchange_order_id=order.id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            status=order.status,
            amount=order.amount,
            price=order.price,
            filled=order.filled,
            average=order.average,
            fee=order.fee,
            fee_currency=order.fee_currency,
            timestamp=order.timestamp,
            level=level,
        )


class OrderUpdateRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What changed about an order already stored (no intent needed): applied with the
    same forward-only guard as an upsert, ignored when the order is unknown."""

    exchange: str
    client_order_id: str
    status: OrderStatus
    filled: Decimal | None = None
    average: Decimal | None = None
    fee: Decimal | None = None
    exchange_order_id: str | None = None


class FillRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One execution; stored once per (exchange, symbol, trade_id)."""

    exchange: str
    trade_id: str
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    timestamp: int  # ms
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    client_order_id: str | None = None
    exchange_order_id: str | None = None
    strategy: str | None = None
    taker: bool = False

    @classmethod
    def from_trade(
        cls, trade: ExchangeTrade, *, exchange: str, strategy: str | None = None
    ) -> FillRecord:
        return cls(
            exchange=exchange,
            trade_id=trade.id,
            exchange_order_id=trade.order_id,
            client_order_id=trade.client_order_id,
            strategy=strategy,
            symbol=trade.symbol,
            side=trade.side,
            price=trade.price,
            amount=trade.amount,
            fee=trade.fee,
            fee_currency=trade.fee_currency,
            timestamp=trade.timestamp,
            taker=trade.taker,
        )

    @classmethod
    def from_report(cls, fill: FillReport, *, exchange: str, strategy: str) -> FillRecord:
        return cls(
            exchange=exchange,
            trade_id=fill.trade_id,
            client_order_id=fill.client_order_id,
            strategy=strategy,
            symbol=fill.symbol,
            side=fill.side,
            price=fill.price,
            amount=fill.amount,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            timestamp=fill.timestamp,
        )


class OrderEventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the append-only order-event log.

    ``event_key`` (e.g. "<exchange>:<strategy>:<sequence>") makes a redelivery a no-op;
    ``payload`` is any JSON-able detail (Decimals become strings).
    """

    exchange: str
    strategy: str
    client_order_id: str
    kind: OrderEventKind
    timestamp: int  # ms
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    event_key: str | None = None


class StateRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy's state to save; ``state["version"]`` is its schema version."""

    strategy: str
    state: dict[str, Any]
    # The writer's fencing token (its grid lease's epoch); 0 for states no lease guards.
    epoch: int = 0


class TradeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A closed grid round trip (a booked cycle); stored once per (exchange, strategy,
    close_order_id). The entry is a buy; ``profit`` is net of ``fee`` (both legs)."""

    exchange: str
    strategy: str
    symbol: str
    amount: Decimal
    open_price: Decimal
    open_order_id: str | None
    opened_at: int  # ms
    close_price: Decimal
    close_order_id: str
    closed_at: int  # ms
    fee: Decimal
    profit: Decimal
    side: Side = Side.BUY
    is_open: bool = False


class RetiredIdsRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Client ids whose orders ``account`` (a paper account) has forgotten; appended
    to ``retired_client_ids``, each once."""

    account: str
    client_order_ids: tuple[str, ...]


StoreWrite = (
    OrderRecord
    | OrderUpdateRecord
    | FillRecord
    | OrderEventRecord
    | StateRecord
    | TradeRecord
    | RetiredIdsRecord
)
