"""``OrderPlacer``: turns what a grid wants into orders on its context.

It rounds amounts to the lot size, checks the market's minimum amount and notional before
anything is sent (design invariant 9), names each order with its deterministic client id,
records the order in the book *before* calling the context (which may call back at once),
and records every refusal as a skipped level (invariant 6: never silently lost).
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import ROUND_DOWN, Decimal

from gridsup.messages.alerts import AlertKind, GridAlert
from gridsup.messages.common import OrderIntent, OrderType, Side
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.state import OrderRole, SkippedLevel, TrackedOrder
from gridsup.strategy.ids import MARKET_LEVEL, make_client_order_id_for_tag
from gridsup.strategy.levels import round_amount
from gridsup.strategy.protocols import ExecutionContext

_log = logging.getLogger("gridsup.strategy.grid")
MAX_PENDING_ALERTS = 100


def log_event(severity: int, event: str, grid_id: str, /, **fields: object) -> None:
    """One log line: a snake_case past-tense event, the grid, then key=value pairs.

    stdlib logging, not structlog: strategy/ imports nothing beyond the standard library,
    msgspec and pydantic, and the process's logging set-up renders these lines.
    """
    if _log.isEnabledFor(severity):
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        _log.log(severity, "%s grid=%s %s", event, grid_id, pairs)


class OrderPlacer:
    """Places one grid's orders on one context, into one book."""

    def __init__(self, book: GridBook, ctx: ExecutionContext, grid_id: str, tag: str, symbol: str):
        self.book = book
        self.ctx = ctx
        self.grid_id = grid_id
        self._tag = tag
        self._symbol = symbol
        # Raised and not yet taken by the runtime (bounded: oldest dropped).
        self.alerts: deque[GridAlert] = deque(maxlen=MAX_PENDING_ALERTS)
        self._market = ctx.market
        self._amount_step = step = ctx.market.amount_step
        # Lot sizes are nearly always powers of ten (0.001): then one quantize rounds,
        # on the path of every order (the general division is kept for 0.005-like lots).
        self._quantum: Decimal | None = None
        if step is not None:
            unit = step.normalize()
            exponent = unit.as_tuple().exponent
            if unit.as_tuple().digits == (1,) and isinstance(exponent, int) and exponent <= 0:
                self._quantum = unit

    def round(self, amount: Decimal) -> Decimal:
        """``amount`` rounded down to the market's lot size."""
        quantum = self._quantum
        if quantum is not None:
            return amount.quantize(quantum, ROUND_DOWN)
        return round_amount(amount, self._amount_step)

    def refusal(self, amount: Decimal, price: Decimal | None) -> str | None:
        """Why the market's limits would refuse this order (None: it may go)."""
        market = self._market
        if amount <= 0:
            return "amount rounds to zero"
        if market.min_amount is not None and amount < market.min_amount:
            return f"amount {amount} below the market's minimum {market.min_amount}"
        notional_floor = market.min_notional
        if price is not None and notional_floor is not None and amount * price < notional_floor:
            return f"notional {amount * price} below the market's minimum {notional_floor}"
        return None

    def place_limit(self, slot: int, side: Side, amount: Decimal) -> None:
        """The slot's order: a buy at its lower level or a sell at its upper one."""
        book = self.book
        amount = self.round(amount)
        level = slot if side is Side.BUY else slot + 1
        price = book.levels[level]
        refusal = self.refusal(amount, price)
        if refusal is not None:
            self.skip(slot, level, side, amount, refusal)
            return
        cycle = book.slot_cycle[slot] + 1
        book.slot_cycle[slot] = cycle
        cid = make_client_order_id_for_tag(self._tag, level, side, cycle)
        book.orders[cid] = TrackedOrder(cid, OrderRole.GRID, slot, level, side, amount, price)
        book.slot_order[slot] = cid
        if book.skipped:
            book.skipped.pop(slot, None)
        self.ctx.place_order(
            OrderIntent(
                client_order_id=cid,
                symbol=self._symbol,
                side=side,
                type=OrderType.LIMIT,
                amount=amount,
                price=price,
            )
        )

    def place_market(
        self, role: OrderRole, side: Side, amount: Decimal, price: Decimal | None
    ) -> str | None:
        """A market order (entry buy, exit sell); the refusal if the limits forbid it."""
        amount = self.round(amount)
        refusal = self.refusal(amount, price)
        if refusal is not None:
            return refusal
        book = self.book
        book.market_seq += 1
        cid = make_client_order_id_for_tag(self._tag, MARKET_LEVEL, side, book.market_seq)
        book.orders[cid] = TrackedOrder(cid, role, -1, MARKET_LEVEL, side, amount, None)
        self.ctx.place_order(
            OrderIntent(
                client_order_id=cid,
                symbol=self._symbol,
                side=side,
                type=OrderType.MARKET,
                amount=amount,
                price=None,
            )
        )
        return None

    def skip(self, slot: int, level: int, side: Side, amount: Decimal, reason: str) -> None:
        """Record an order the grid wanted and could not have (slot -1: a market order),
        and raise an alert for it."""
        now = self.ctx.now_ms()
        self.book.skipped[slot] = SkippedLevel(slot, level, side, amount, reason, now)
        self.alerts.append(
            GridAlert(
                grid=self.grid_id,
                kind=AlertKind.LEVEL_REFUSED,
                reason=f"{side.value} {amount} at level {level}: {reason}",
                timestamp=now,
                slot=slot,
            )
        )
        log_event(
            logging.WARNING,
            "level_skipped",
            self.grid_id,
            slot=slot,
            level=level,
            side=side.value,
            reason=reason,
        )
