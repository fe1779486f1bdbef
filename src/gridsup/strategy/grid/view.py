"""``BookView``: the read-only figures of a :class:`GridBook` that reports and tests read
(the grid strategy inherits them). Split from ``book.py``, which holds and checks."""

from __future__ import annotations

from decimal import Decimal

from gridsup.messages.common import Side
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.state import CycleRecord, Phase, SkippedLevel, StopReason

_ZERO = Decimal(0)


class BookView:
    """Read-only figures over a :class:`GridBook`, for reports and tests."""

    _book: GridBook

    @property
    def levels(self) -> tuple[Decimal, ...]:
        return self._book.levels

    @property
    def order_amounts(self) -> tuple[Decimal, ...]:
        """Base amount of each slot's buy."""
        return self._book.amounts

    @property
    def phase(self) -> Phase:
        return self._book.phase

    @property
    def stopped(self) -> bool:
        return self._book.phase in (Phase.STOPPING, Phase.STOPPED)

    @property
    def stop_reason(self) -> StopReason | None:
        return self._book.stop_reason

    @property
    def realized_profit(self) -> Decimal:
        """Sum of the booked cycle profits (quote, net of every fee)."""
        return self._book.realized_profit

    @property
    def fees_paid(self) -> Decimal:
        """Fees in quote (base fees valued at their fill's price); see ``other_fees``."""
        return self._book.fees_paid

    @property
    def other_fees(self) -> dict[str, Decimal]:
        """Fees charged in a third currency (BNB, ...), by currency."""
        return dict(self._book.other_fees)

    @property
    def completed_cycles(self) -> int:
        return self._book.completed_cycles

    @property
    def exit_proceeds(self) -> Decimal:
        """Quote received (net) by the market sell after a stop."""
        return self._book.exit_proceeds

    @property
    def base_held(self) -> Decimal:
        """Base the grid owns (bought minus sold, net of base fees)."""
        return self._book.base_held

    @property
    def cost_held(self) -> Decimal:
        """Quote paid (fees included) for the base the grid holds: its sells' and its dust's.
        Quote received minus quote spent is ``realized_profit - cost_held`` at any time."""
        book = self._book
        return sum(book.slot_cost, _ZERO) + book.dust_cost

    @property
    def dust(self) -> Decimal:
        """Base received but in no order yet (under one lot step after each counter sell)."""
        return self._book.dust

    @property
    def skipped_levels(self) -> tuple[SkippedLevel, ...]:
        """Orders the grid wanted but the exchange or the market's limits refused."""
        skipped = self._book.skipped
        return tuple(skipped[k] for k in sorted(skipped))

    @property
    def cycles_dropped(self) -> int:
        """Cycle records dropped unacknowledged (more than MAX_PENDING_CYCLES pending)."""
        return self._book.cycles_dropped

    def pending_cycles(self) -> tuple[CycleRecord, ...]:
        """Cycles booked and not yet acknowledged by the store, oldest first. They are
        part of the state, so a crash before the acknowledgement loses none."""
        return tuple(self._book.cycles)

    def ack_cycles(self, seqs: set[int]) -> None:
        """The store holds the records ``seqs``: drop them from the state."""
        self._book.ack_cycles(seqs)

    def drain_cycles(self) -> list[CycleRecord]:
        """Take every pending record at once (for a consumer that stores them itself
        right away, such as a backtest); the actor uses pending/ack instead."""
        out, self._book.cycles = self._book.cycles, []
        return out

    def open_orders(self) -> dict[str, tuple[int, Side, Decimal, Decimal | None]]:
        """client order id -> (level index, side, amount, price) of every open order."""
        return {c: (o.level, o.side, o.amount, o.price) for c, o in self._book.orders.items()}
