"""The grid strategy's records and their persisted form (versioned, with migrations).

A snapshot is a JSON-able ``dict`` (Decimals as strings, enums as their values) carrying a
``version``. :func:`migrate_state` lifts an older snapshot step by step to
:data:`STATE_VERSION` through :data:`MIGRATIONS`; a snapshot from a newer gridsup is
refused rather than misread.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gridsup.messages.common import Side

STATE_VERSION = 1

# version N -> function turning a version-N snapshot into a version-(N+1) one.
Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _from_v0(state: dict[str, Any]) -> dict[str, Any]:
    # Version 0 (gridsup's pre-release snapshots) had a boolean ``stopped`` and no
    # skipped levels, fees in other currencies nor exit proceeds.
    out = dict(state)
    stopped = bool(out.pop("stopped", False))
    out.setdefault("phase", Phase.STOPPED.value if stopped else Phase.RUNNING.value)
    out.setdefault("stop_reason", None)
    out.setdefault("skipped", [])
    out.setdefault("other_fees", {})
    out.setdefault("exit_proceeds", "0")
    out["version"] = 1
    return out


MIGRATIONS: dict[int, Migration] = {0: _from_v0}


class StateError(ValueError):
    """A snapshot cannot be restored (unknown version, wrong grid, corrupt field)."""


class Phase(enum.Enum):
    """Where a grid is in its life. Only STOPPED is final."""

    WAITING_PRICE = "waiting_price"  # no price seen yet: nothing placed
    ENTERING = "entering"  # the initial market buy is in flight; buys below are live
    RUNNING = "running"
    STOPPING = "stopping"  # stop-loss/take-profit hit: cancelling, then the exit sell
    STOPPED = "stopped"


class StopReason(enum.Enum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


class OrderRole(enum.Enum):
    GRID = "grid"  # a limit order in a slot
    ENTRY = "entry"  # the initial position's market buy
    EXIT = "exit"  # the market sell after a stop


class AdoptOutcome(enum.Enum):
    """What became of an open order found on the exchange but not in the state."""

    ADOPTED = "adopted"  # tracked from now on, in its slot
    ALREADY_TRACKED = "already_tracked"
    FOREIGN = "foreign"  # not this grid's id: report it, never touch it
    SLOT_TAKEN = "slot_taken"  # ours, but its slot holds another order: a duplicate
    NOT_A_LEVEL = "not_a_level"  # ours, but its level/price is not one of the grid's


@dataclass(slots=True)
class TrackedOrder:
    """One of our orders while it is open. Mutable: fills accumulate into it."""

    client_order_id: str
    role: OrderRole
    slot: int  # -1 for market orders
    level: int
    side: Side
    amount: Decimal
    price: Decimal | None
    filled: Decimal = Decimal(0)
    base_fee: Decimal = Decimal(0)  # fees charged in the base asset
    quote: Decimal = Decimal(0)  # buys: quote spent incl. fees; sells: quote received net
    cancel_requested: bool = False
    quote_fee: Decimal = Decimal(0)  # fees charged in the quote asset (inside ``quote``)
    fee_value: Decimal = Decimal(0)  # every fee valued in quote (base fees at the fill price)
    filled_at: int = 0  # time of its last fill (ms), 0 before any
    third_fee: Decimal = Decimal(0)  # fees in a third asset (BNB) valued in quote, in ``quote``

    def to_json(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "role": self.role.value,
            "slot": self.slot,
            "level": self.level,
            "side": self.side.value,
            "amount": str(self.amount),
            "price": None if self.price is None else str(self.price),
            "filled": str(self.filled),
            "base_fee": str(self.base_fee),
            "quote": str(self.quote),
            "cancel_requested": self.cancel_requested,
            "quote_fee": str(self.quote_fee),
            "fee_value": str(self.fee_value),
            "filled_at": self.filled_at,
            "third_fee": str(self.third_fee),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrackedOrder:
        price = data["price"]
        return cls(
            client_order_id=str(data["client_order_id"]),
            role=OrderRole(data["role"]),
            slot=int(data["slot"]),
            level=int(data["level"]),
            side=Side(data["side"]),
            amount=Decimal(data["amount"]),
            price=None if price is None else Decimal(price),
            filled=Decimal(data["filled"]),
            base_fee=Decimal(data["base_fee"]),
            quote=Decimal(data["quote"]),
            cancel_requested=bool(data["cancel_requested"]),
            # Absent from snapshots written before cycles were recorded: zero.
            quote_fee=Decimal(data.get("quote_fee", "0")),
            fee_value=Decimal(data.get("fee_value", "0")),
            filled_at=int(data.get("filled_at", 0)),
            third_fee=Decimal(data.get("third_fee", "0")),
        )


@dataclass(frozen=True, slots=True)
class SkippedLevel:
    """An order the grid wanted but could not have: refused by the exchange or by the
    market's limits. The slot stays empty and this record says why."""

    slot: int  # -1 for a market order
    level: int
    side: Side
    amount: Decimal
    reason: str
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "level": self.level,
            "side": self.side.value,
            "amount": str(self.amount),
            "reason": self.reason,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SkippedLevel:
        return cls(
            slot=int(data["slot"]),
            level=int(data["level"]),
            side=Side(data["side"]),
            amount=Decimal(data["amount"]),
            reason=str(data["reason"]),
            timestamp=int(data["timestamp"]),
        )


@dataclass(frozen=True, slots=True)
class OpenLeg:
    """What a slot's sell holds: the buy (or the entry's share) that bought its base."""

    order_id: str | None  # client id of the buy; None when unknown (an adopted sell)
    price: Decimal  # average price paid, fees excluded
    opened_at: int  # ms
    fee: Decimal  # the buy's fees for this base, valued in quote

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "price": str(self.price),
            "opened_at": self.opened_at,
            "fee": str(self.fee),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenLeg:
        oid = data["order_id"]
        return cls(
            order_id=None if oid is None else str(oid),
            price=Decimal(data["price"]),
            opened_at=int(data["opened_at"]),
            fee=Decimal(data["fee"]),
        )


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """One cycle the grid booked: a sell fill closing the buy of its slot, with its profit
    net of both legs' fees (exactly what was added to ``realized_profit``). ``seq``
    numbers a grid's records 1, 2, 3 ...; ``close_order_id`` (the sell's client id) is
    the store's idempotency key. A partial sell (cancelled after some fills) is a record
    too (``complete`` False): its profit is booked as well. Money fields are rounded to
    18 decimals (what the store holds exactly)."""

    seq: int
    slot: int
    amount: Decimal  # base sold
    open_price: Decimal
    open_order_id: str | None
    opened_at: int  # ms
    close_price: Decimal
    close_order_id: str
    closed_at: int  # ms
    fee: Decimal  # both legs, in quote
    profit: Decimal  # net of fees, in quote
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "slot": self.slot,
            "amount": str(self.amount),
            "open_price": str(self.open_price),
            "open_order_id": self.open_order_id,
            "opened_at": self.opened_at,
            "close_price": str(self.close_price),
            "close_order_id": self.close_order_id,
            "closed_at": self.closed_at,
            "fee": str(self.fee),
            "profit": str(self.profit),
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CycleRecord:
        oid = data["open_order_id"]
        return cls(
            seq=int(data["seq"]),
            slot=int(data["slot"]),
            amount=Decimal(data["amount"]),
            open_price=Decimal(data["open_price"]),
            open_order_id=None if oid is None else str(oid),
            opened_at=int(data["opened_at"]),
            close_price=Decimal(data["close_price"]),
            close_order_id=str(data["close_order_id"]),
            closed_at=int(data["closed_at"]),
            fee=Decimal(data["fee"]),
            profit=Decimal(data["profit"]),
            complete=bool(data["complete"]),
        )


def migrate_state(
    state: Mapping[str, Any],
    migrations: Mapping[int, Migration] = MIGRATIONS,
    current: int = STATE_VERSION,
) -> dict[str, Any]:
    """Lift ``state`` to version ``current``.

    Raises:
        StateError: the version is missing, newer than ``current``, or has no migration.
    """
    out = dict(state)
    version = out.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError(f"state has no integer version: {version!r}")
    if version > current:
        raise StateError(f"state version {version} is newer than this gridsup ({current})")
    while version < current:
        step = migrations.get(version)
        if step is None:
            raise StateError(f"no migration from state version {version}")
        out = step(out)
        if out.get("version") != version + 1:
            raise StateError(f"migration from version {version} did not produce {version + 1}")
        version += 1
    return out
