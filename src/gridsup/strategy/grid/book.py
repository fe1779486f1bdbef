"""``GridBook``: everything a grid knows (slots, open orders, figures) and its snapshot
form.

The strategy (strategy.py) decides; the book only holds (invariant.py checks the slot
invariant over it). Keeping the snapshot next to the fields it must list means a new
field cannot be forgotten there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from typing import Any

from gridsup.messages.common import Side
from gridsup.strategy.grid.state import (
    STATE_VERSION,
    AdoptOutcome,
    CycleRecord,
    OpenLeg,
    OrderRole,
    Phase,
    SkippedLevel,
    StateError,
    StopReason,
    TrackedOrder,
)

_ZERO = Decimal(0)
# Booked cycles waiting for the store's acknowledgement; beyond this the oldest are
# dropped (counted): a consumer that never drains (a backtest) keeps bounded memory.
MAX_PENDING_CYCLES = 1000
_MONEY_QUANTUM = Decimal("1e-18")  # what the store holds exactly


def money(value: Decimal) -> Decimal:
    """``value`` rounded to 18 decimals when it has more (an average or a share)."""
    with localcontext() as ctx:
        ctx.prec = 80
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -18:
            value = value.quantize(_MONEY_QUANTUM)
        trimmed = value.normalize()  # no trailing zeros, but 5.5E+4 must stay 55000
        exponent = trimmed.as_tuple().exponent
        return (
            trimmed.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else trimmed
        )


@dataclass(slots=True, eq=False)
class GridBook:
    """Mutable state of one grid. Slot ``k`` lies between ``levels[k]`` and ``levels[k+1]``."""

    levels: tuple[Decimal, ...]
    amounts: tuple[Decimal, ...]  # base amount of each slot's buy
    slot_order: list[str | None]  # client id of the slot's open order
    slot_cycle: list[int]  # orders placed in the slot so far (the id's "cycle")
    slot_cost: list[Decimal]  # quote paid (fees included) for the base a slot's sell holds
    base: str  # asset codes, to tell which currency a fee was charged in
    quote: str
    orders: dict[str, TrackedOrder] = field(default_factory=dict)
    skipped: dict[int, SkippedLevel] = field(default_factory=dict)  # by slot; -1 = market
    phase: Phase = Phase.WAITING_PRICE
    stop_reason: StopReason | None = None
    market_seq: int = 0  # market orders placed so far (their ids' cycle)
    entry_slots: list[int] = field(default_factory=list)  # slots waiting for the entry buy
    last_price: Decimal | None = None
    base_held: Decimal = _ZERO  # base owned: bought minus sold, net of base fees
    realized_profit: Decimal = _ZERO
    fees_paid: Decimal = _ZERO  # in quote
    other_fees: dict[str, Decimal] = field(default_factory=dict)  # fees in a third currency
    completed_cycles: int = 0
    exit_proceeds: Decimal = _ZERO
    slot_open: dict[int, OpenLeg] = field(default_factory=dict)  # the buy each sell closes
    cycles: list[CycleRecord] = field(default_factory=list)  # booked, not yet acked
    cycle_seq: int = 0  # cycle records made so far (the last one's seq)
    cycles_dropped: int = 0  # records dropped unacked past MAX_PENDING_CYCLES
    last_time: int = 0  # latest fill time seen (ms), for fills reported without one
    # Base the grid received but holds in no order: what rounding a counter sell down to
    # the lot step left over, and the unsold rest of a cancelled partial sell. Folded
    # into the next counter sell (see size_counter_sell), so it stays under one step.
    dust: Decimal = _ZERO
    dust_cost: Decimal = _ZERO  # quote paid for ``dust`` (fees included)

    @classmethod
    def fresh(
        cls, levels: tuple[Decimal, ...], amounts: tuple[Decimal, ...], base: str, quote: str
    ) -> GridBook:
        slots = len(levels) - 1
        return cls(levels, amounts, [None] * slots, [0] * slots, [_ZERO] * slots, base, quote)

    # ------------------------------------------------------------------------- ledger

    def record_fill(
        self,
        order: TrackedOrder,
        price: Decimal,
        amount: Decimal,
        fee: Decimal,
        currency: str,
        timestamp: int = 0,
        fee_quote: Decimal | None = None,
    ) -> None:
        """Count one trade of ``order``: its quote, its fee, the base it moves.

        ``timestamp`` 0: unknown (the latest fill time seen is used). ``fee_quote``
        values a fee charged in a third asset (BNB) in quote: it then counts in the
        order's ``quote`` like a quote fee, so every profit is net of it, and in
        ``third_fee`` apart (the quote balance never paid it). Without it such a fee is
        counted by asset only (``other_fees``)."""
        if timestamp:
            self.last_time = max(self.last_time, timestamp)
        order.filled_at = timestamp or self.last_time
        notional = price * amount
        in_quote = fee_base = _ZERO
        if fee:
            if currency == self.quote:
                in_quote = fee
                self.fees_paid += fee
                order.quote_fee += fee
                order.fee_value += fee
            elif currency == self.base:
                # A buy's base fee shrinks what arrives: the counter sell sells less.
                fee_base = fee
                order.base_fee += fee
                self.fees_paid += fee * price
                order.fee_value += fee * price
            else:
                self.other_fees[currency] = self.other_fees.get(currency, _ZERO) + fee
                if fee_quote:
                    in_quote = fee_quote
                    order.third_fee += fee_quote
                    self.fees_paid += fee_quote
                    order.fee_value += fee_quote
        if order.side is Side.BUY:
            order.quote += notional + in_quote
            self.base_held += amount - fee_base
        else:
            order.quote += notional - in_quote
            self.base_held -= amount + fee_base
        order.filled += amount

    def size_counter_sell(
        self, order: TrackedOrder, round_down: Callable[[Decimal], Decimal]
    ) -> Decimal:
        """The counter sell of the closed buy ``order``: what the account received (filled
        less a base fee) plus the grid's dust, rounded down to the lot step. The rest
        becomes the new dust; the sell carries its share of the cost of both (average
        cost), so no quote is lost from the books. Sets the slot's cost."""
        pool = order.filled - order.base_fee + self.dust
        cost = order.quote + self.dust_cost
        amount = round_down(pool) if pool > 0 else _ZERO
        if amount == pool:
            sell_cost = cost
        else:
            # Rounded to what the store holds, so the sums stay exact (28 digits).
            sell_cost = (cost * amount / pool).quantize(_MONEY_QUANTUM) if pool > 0 else _ZERO
        self.dust, self.dust_cost = pool - amount, cost - sell_cost
        self.slot_cost[order.slot] = sell_cost
        return amount

    def to_dust(self, slot: int, amount: Decimal) -> None:
        """``amount`` of base held for the slot's sell goes back to the dust, with the
        slot's remaining cost (a sell that will not be placed, or its unsold rest)."""
        self.dust += amount
        self.dust_cost += self.slot_cost[slot]
        self.slot_cost[slot] = _ZERO
        self.slot_open.pop(slot, None)

    def book_sell(self, order: TrackedOrder) -> None:
        """A slot's sell closed with fills: book its profit against the slot's cost.

        A partial sell books the sold share of the cost; only a full one is a cycle.
        """
        k = order.slot
        cost = self.slot_cost[k]
        leg = self.slot_open.get(k)
        buy_fee = _ZERO
        complete = order.filled >= order.amount
        if not complete:
            share = order.filled / order.amount
            cost = cost * share
            self.slot_cost[k] -= cost
            if leg is not None:
                buy_fee = leg.fee * share
                self.slot_open[k] = replace(leg, fee=leg.fee - buy_fee)
        else:
            self.slot_cost[k] = _ZERO
            self.completed_cycles += 1
            self.slot_open.pop(k, None)
            if leg is not None:
                buy_fee = leg.fee
        profit = order.quote - cost
        self.realized_profit += profit
        self._record_cycle(order, leg, buy_fee, profit, complete)

    def open_leg(self, slot: int, order: TrackedOrder, share: Decimal = Decimal(1)) -> None:
        """The slot's sell will close (``share`` of) the buy ``order``."""
        bought = order.filled
        price = (order.quote - order.quote_fee) / bought if bought else (order.price or _ZERO)
        self.slot_open[slot] = OpenLeg(
            order_id=order.client_order_id,
            price=money(price),
            opened_at=order.filled_at or self.last_time,
            fee=order.fee_value * share,
        )

    def _record_cycle(
        self,
        order: TrackedOrder,
        leg: OpenLeg | None,
        buy_fee: Decimal,
        profit: Decimal,
        complete: bool,
    ) -> None:
        sold = order.filled
        closed_at = order.filled_at or self.last_time
        self.cycle_seq += 1
        self.cycles.append(
            CycleRecord(
                seq=self.cycle_seq,
                slot=order.slot,
                amount=sold,
                open_price=self.levels[order.slot] if leg is None else leg.price,
                open_order_id=None if leg is None else leg.order_id,
                opened_at=closed_at if leg is None or not leg.opened_at else leg.opened_at,
                close_price=money((order.quote + order.quote_fee) / sold),
                close_order_id=order.client_order_id,
                closed_at=closed_at,
                fee=money(buy_fee + order.fee_value),
                profit=money(profit),
                complete=complete,
            )
        )
        if len(self.cycles) > MAX_PENDING_CYCLES:
            del self.cycles[0]
            self.cycles_dropped += 1

    def ack_cycles(self, seqs: set[int]) -> None:
        """Forget the records ``seqs`` (the store acknowledged them)."""
        self.cycles = [c for c in self.cycles if c.seq not in seqs]

    # ------------------------------------------------------------------ reconciliation

    def adopt(
        self,
        client_order_id: str,
        level: int,
        side: Side,
        cycle: int,
        price: Decimal,
        amount: Decimal,
        fee_rate: Decimal,
    ) -> AdoptOutcome:
        """Track one of our limit orders that the state does not know (an orphan left by a
        crash between placing it and saving the state).

        A sell's cost is unknown, so it is estimated as a buy at the slot's lower level
        with ``fee_rate``. What it already filled is for the caller to record.
        """
        if client_order_id in self.orders:
            return AdoptOutcome.ALREADY_TRACKED
        slot = level if side is Side.BUY else level - 1
        if not (0 <= slot < len(self.slot_order) and self.levels[level] == price):
            return AdoptOutcome.NOT_A_LEVEL
        if self.slot_order[slot] is not None:
            return AdoptOutcome.SLOT_TAKEN
        order = TrackedOrder(client_order_id, OrderRole.GRID, slot, level, side, amount, price)
        self.orders[client_order_id] = order
        self.slot_order[slot] = client_order_id
        # Ids of later orders in this slot must not repeat the adopted one's.
        self.slot_cycle[slot] = max(self.slot_cycle[slot], cycle)
        self.skipped.pop(slot, None)
        if side is Side.SELL:
            self.base_held += amount
            self.slot_cost[slot] = self.levels[slot] * amount * (1 + fee_rate)
            self.slot_open[slot] = OpenLeg(
                order_id=None,
                price=self.levels[slot],
                opened_at=self.last_time,
                fee=self.levels[slot] * amount * fee_rate,
            )
        return AdoptOutcome.ADOPTED

    # ----------------------------------------------------------------------- snapshot

    def to_json(self, grid_id: str, symbol: str) -> dict[str, Any]:
        """A JSON-able snapshot (Decimals as strings) at :data:`STATE_VERSION`."""
        return {
            "version": STATE_VERSION,
            "grid_id": grid_id,
            "symbol": symbol,
            "phase": self.phase.value,
            "stop_reason": None if self.stop_reason is None else self.stop_reason.value,
            "levels": [str(p) for p in self.levels],
            "amounts": [str(a) for a in self.amounts],
            "slot_cycle": list(self.slot_cycle),
            "slot_cost": [str(c) for c in self.slot_cost],
            "market_seq": self.market_seq,
            "entry_slots": list(self.entry_slots),
            "last_price": None if self.last_price is None else str(self.last_price),
            "base_held": str(self.base_held),
            "realized_profit": str(self.realized_profit),
            "fees_paid": str(self.fees_paid),
            "other_fees": {k: str(v) for k, v in sorted(self.other_fees.items())},
            "completed_cycles": self.completed_cycles,
            "exit_proceeds": str(self.exit_proceeds),
            "slot_open": {str(k): v.to_json() for k, v in sorted(self.slot_open.items())},
            "cycles": [c.to_json() for c in self.cycles],
            "cycle_seq": self.cycle_seq,
            "cycles_dropped": self.cycles_dropped,
            "last_time": self.last_time,
            "dust": str(self.dust),
            "dust_cost": str(self.dust_cost),
            "skipped": [self.skipped[k].to_json() for k in sorted(self.skipped)],
            "orders": [o.to_json() for o in self.orders.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: str, quote: str) -> GridBook:
        """The book of a current-version snapshot (migrate older ones first).

        Raises:
            StateError: a field is missing or malformed, or the lists disagree in length.
        """
        try:
            book = cls._decode(data, base, quote)
        except (KeyError, TypeError, ValueError, ArithmeticError, IndexError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"corrupt grid state: {exc!r}") from exc
        slots = len(book.levels) - 1
        if slots < 1 or not (
            len(book.amounts) == len(book.slot_cycle) == len(book.slot_cost) == slots
        ):
            raise StateError("corrupt grid state: per-slot lists differ in length")
        return book

    @classmethod
    def _decode(cls, data: Mapping[str, Any], base: str, quote: str) -> GridBook:
        levels = tuple(Decimal(p) for p in data["levels"])
        reason = data["stop_reason"]
        last = data["last_price"]
        book = cls(
            levels=levels,
            amounts=tuple(Decimal(a) for a in data["amounts"]),
            slot_order=[None] * (len(levels) - 1),
            slot_cycle=[int(c) for c in data["slot_cycle"]],
            slot_cost=[Decimal(c) for c in data["slot_cost"]],
            base=base,
            quote=quote,
            phase=Phase(data["phase"]),
            stop_reason=None if reason is None else StopReason(reason),
            market_seq=int(data["market_seq"]),
            entry_slots=[int(k) for k in data["entry_slots"]],
            last_price=None if last is None else Decimal(last),
            base_held=Decimal(data["base_held"]),
            realized_profit=Decimal(data["realized_profit"]),
            fees_paid=Decimal(data["fees_paid"]),
            other_fees={str(k): Decimal(v) for k, v in data["other_fees"].items()},
            completed_cycles=int(data["completed_cycles"]),
            exit_proceeds=Decimal(data["exit_proceeds"]),
            # Absent from snapshots written before cycles were recorded.
            slot_open={int(k): OpenLeg.from_json(v) for k, v in data.get("slot_open", {}).items()},
            cycles=[CycleRecord.from_json(c) for c in data.get("cycles", [])],
            cycle_seq=int(data.get("cycle_seq", 0)),
            cycles_dropped=int(data.get("cycles_dropped", 0)),
            last_time=int(data.get("last_time", 0)),
            # Absent from snapshots written before the dust was tracked.
            dust=Decimal(data.get("dust", "0")),
            dust_cost=Decimal(data.get("dust_cost", "0")),
        )
        for raw in data["skipped"]:
            skipped = SkippedLevel.from_json(raw)
            book.skipped[skipped.slot] = skipped
        for raw in data["orders"]:
            order = TrackedOrder.from_json(raw)
            book.orders[order.client_order_id] = order
            if order.role is OrderRole.GRID:
                book.slot_order[order.slot] = order.client_order_id
        return book
