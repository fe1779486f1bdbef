"""Per-grid budgets (design invariant 7: grids share an account, not its money).

A grid commits quote in two ways: open buy orders (their unfilled notional) and the quote
its position has taken out of the account (what its buys cost, fees included, less what
its sells brought back: a grid never spends more of the account's quote than its
budget, and its realized profit is its own to re-buy with). A new buy is refused when
the two plus the order's notional would pass the grid's ``budget_quote``; sells are
never refused (they free money). Such a refusal is temporary (the grid keeps the slot
and retries: fills and sells give the room back), unless the order alone exceeds the
whole budget.
Positions are part of the execution actor's saved state, so a restart keeps counting
what each grid holds.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from gridsup.messages.common import FillReport, OrderIntent, Side

_ZERO = Decimal(0)


class Position(msgspec.Struct, kw_only=True):
    """Base a grid holds, and the quote it has out in it: its buys' cost (fees included)
    less what its sells of that base brought back, never below zero.

    Not an average cost: a grid that sold its highest lot at a profit must be able to
    re-buy that level with a budget of exactly its levels' notional (``reserve_pct`` 0);
    valuing the rest at the average of all its lots would refuse it until the lower lots
    sold too."""

    base: Decimal = _ZERO
    cost: Decimal = _ZERO

    def apply(self, fill: FillReport, base_currency: str) -> None:
        """Move the position by one fill (fees in base reduce what is held)."""
        fee_base = fill.fee if fill.fee_currency == base_currency else _ZERO
        fee_quote = fill.fee if fill.fee_currency != base_currency else _ZERO
        if fill.fee_quote is not None:  # a third asset's fee (BNB), valued in quote
            fee_quote = fill.fee_quote
        if fill.side is Side.BUY:
            self.base += fill.amount - fee_base
            self.cost += fill.amount * fill.price + fee_quote
            return
        if self.base <= 0:
            return  # selling what the grid never bought here (an initial holding)
        sold = min(fill.amount, self.base)
        back = sold * fill.price - fee_quote * sold / fill.amount
        self.cost = max(_ZERO, self.cost - back)
        self.base -= sold
        if self.base <= 0:
            self.base, self.cost = _ZERO, _ZERO


class Budgets:
    """Budget and position of every grid of the run."""

    def __init__(self, budgets: dict[str, Decimal], positions: dict[str, Position] | None = None):
        self.budgets = dict(budgets)
        self.positions: dict[str, Position] = {g: Position() for g in budgets}
        self.positions.update(positions or {})
        self.refused = 0

    def check(
        self, grid: str, intent: OrderIntent, open_buy_notional: Decimal, price: Decimal | None
    ) -> str | None:
        """None when ``intent`` fits ``grid``'s budget, else the refusal reason.

        ``price`` is what a market order is expected to pay (the last price). Whether
        the refusal is for now or for good: :meth:`never_fits`.
        """
        if intent.side is Side.SELL:
            return None
        budget = self.budgets.get(grid)
        if budget is None:
            return f"budget: unknown grid {grid!r}"
        unit = intent.price if intent.price is not None else price
        if unit is None:
            return "budget: no price known to value a market buy"
        notional = intent.amount * unit
        held = self.positions.setdefault(grid, Position()).cost
        committed = open_buy_notional + held
        if committed + notional > budget:
            self.refused += 1
            return (
                f"budget exceeded for grid {grid}: open buys {open_buy_notional} + quote out "
                f"in its position {held} + this order {notional} > budget {budget}"
            )
        return None

    def never_fits(self, grid: str, intent: OrderIntent, price: Decimal | None) -> bool:
        """True when ``intent`` could not fit ``grid``'s budget even with no other buy
        open and nothing held: an unknown grid, or an order whose notional alone passes
        the budget. Any other refusal of :meth:`check` is for now only: the room comes
        back as the grid's buys fill or are cancelled and its base is sold (and a market
        buy without a price yet gets one)."""
        budget = self.budgets.get(grid)
        if budget is None:
            return True
        unit = intent.price if intent.price is not None else price
        return unit is not None and intent.amount * unit > budget

    def on_fill(self, grid: str, fill: FillReport, base_currency: str) -> None:
        self.positions.setdefault(grid, Position()).apply(fill, base_currency)
