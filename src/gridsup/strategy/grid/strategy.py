"""``GridTradingStrategy``: a spot grid that keeps one order in every slot.

``N`` levels make ``N - 1`` slots; slot ``k`` lies between levels ``k`` and ``k + 1`` and
holds at most one order: a buy at level ``k`` or a sell at level ``k + 1`` (design
invariant 6). A filled buy is answered in the same slot by a sell of the base it bought;
a filled sell books the cycle's profit net of fees and re-places the buy.

On the first price the lowest level at or above it stays empty; slots below get buys,
and with ``initial_position = buy`` the slots above get sells of base bought at market
first. Every call into the context may call back into the strategy at once (a backtest
fills a market order inside ``place_order``), so the state is always updated *before*
the context is called (the :class:`OrderPlacer` does that).

This module decides; ``book.py`` holds the state (``view.py`` reads it,
``invariant.py`` checks it), ``entry.py`` opens the grid on its first price,
``counter.py`` answers a closed slot order, ``orders.py`` places orders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, assert_never

from gridsup.messages.alerts import AlertKind, GridAlert
from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.strategy.grid.book import GridBook
from gridsup.strategy.grid.config import GridConfig, InitialPosition
from gridsup.strategy.grid.counter import close_grid_order, cut_worthy
from gridsup.strategy.grid.entry import close_entry, open_grid, skip_entry_slots
from gridsup.strategy.grid.invariant import slot_violations
from gridsup.strategy.grid.orders import OrderPlacer, log_event
from gridsup.strategy.grid.state import (
    AdoptOutcome,
    CycleRecord,
    OrderRole,
    Phase,
    SkippedLevel,
    StateError,
    StopReason,
    TrackedOrder,
    migrate_state,
)
from gridsup.strategy.grid.view import BookView
from gridsup.strategy.ids import MARKET_LEVEL, grid_tag, parse_client_order_id
from gridsup.strategy.levels import calculate_order_size, grid_levels
from gridsup.strategy.protocols import ExecutionContext

__all__ = [
    "AdoptOutcome",
    "CycleRecord",
    "GridTradingStrategy",
    "OrderRole",
    "Phase",
    "SkippedLevel",
    "StopReason",
]

_ZERO = Decimal(0)
_INF = float("inf")
_WARNING = logging.WARNING


class GridTradingStrategy(BookView):
    """One grid on one symbol. See the module docstring and docs/strategies.md.

    Raises (constructor):
        GridLevelsError: the config's levels cannot be built.
    """

    config_type: ClassVar[type[GridConfig]] = GridConfig

    def __init__(self, config: GridConfig, grid_id: str | None = None) -> None:
        self.config = config
        self.name = config.name
        self.grid_id = grid_id or config.name
        self._tag = grid_tag(self.grid_id)
        self._desk: OrderPlacer | None = None
        self._restored = False
        levels = grid_levels(config)
        self._book = GridBook.fresh(
            levels, calculate_order_size(config, levels), config.base, config.quote
        )
        self._stop_low = config.stop_loss_price
        self._stop_high = config.take_profit_price
        self._band = (
            float(self._stop_low) if self._stop_low is not None else -_INF,
            float(self._stop_high) if self._stop_high is not None else _INF,
        )

    def tick_band(self) -> tuple[float, float] | None:
        """Open interval of prices inside which :meth:`on_tick` does nothing.

        ``None`` until the first price is known (that tick places the orders).
        """
        phase = self._book.phase
        if phase is Phase.WAITING_PRICE:
            return None
        if phase is Phase.ENTERING or phase is Phase.RUNNING:
            return self._band
        return (-_INF, _INF)

    def slot_invariant_violations(self) -> list[str]:
        """Breaches of invariant 6 (empty when it holds); tests call this after every event."""
        full = (
            self.config.initial_position is InitialPosition.BUY
            and self._book.phase is Phase.RUNNING
        )
        return slot_violations(self._book, every_slot_filled=full)

    # ------------------------------------------------------------------------ lifecycle

    def initialize(self, ctx: ExecutionContext) -> None:
        """Bind the context. Orders wait for the first price (:meth:`on_tick`).

        Raises:
            GridLevelsError: the levels collide at the market's tick size.
        """
        market = ctx.market
        levels = grid_levels(self.config, market)
        amounts = calculate_order_size(self.config, levels, market.amount_step)
        if not self._restored:
            self._book = GridBook.fresh(levels, amounts, self.config.base, self.config.quote)
        elif (levels, amounts) != (self._book.levels, self._book.amounts):
            # The open orders sit at the snapshot's levels: keep trading those. A new
            # range takes effect only for a grid started without a saved state.
            self._warn("grid_config_changed", kept="levels and amounts of the saved state")
        self._desk = OrderPlacer(self._book, ctx, self.grid_id, self._tag, self.config.symbol)

    def drain_alerts(self) -> list[GridAlert]:
        """Alerts raised since the last call, oldest first (see ``messages/alerts.py``)."""
        desk = self._desk
        if desk is None or not desk.alerts:
            return []
        out = list(desk.alerts)
        desk.alerts.clear()
        return out

    def shutdown(self) -> None:
        """Stop reacting; open orders stay on the exchange for the next start to reconcile."""
        self._desk = None

    # ---------------------------------------------------------------------------- events

    def on_tick(self, tick: Tick) -> None:
        price = tick.last
        phase = self._book.phase
        if phase is Phase.ENTERING or phase is Phase.RUNNING:
            if self._stop_low is not None and price < self._stop_low:
                self._stop(StopReason.STOP_LOSS, price)
            elif self._stop_high is not None and price > self._stop_high:
                self._stop(StopReason.TAKE_PROFIT, price)
        elif phase is Phase.WAITING_PRICE:
            self._start(price)

    def on_order_filled(self, fill: FillReport) -> None:
        order = self._book.orders.get(fill.client_order_id)
        if order is None:
            self._warn("fill_ignored", client_order_id=fill.client_order_id, why="not open")
            return
        if fill.order_filled <= order.filled:
            # At-least-once delivery: a trade we have already counted.
            if fill.order_closed and fill.order_filled == order.filled:
                self._close(order)
            return
        self._book.record_fill(
            order,
            fill.price,
            fill.amount,
            fill.fee,
            fill.fee_currency,
            fill.timestamp,
            fill.fee_quote,
        )
        if fill.order_closed or order.filled >= order.amount:
            self._close(order)
        elif self._desk is not None and cut_worthy(self._book, self._desk, order):
            # The part bought is tradable on its own: cancel the rest and sell it now
            # rather than hold it until the whole buy fills (docs/strategies.md).
            order.cancel_requested = True
            self._warn("partial_fill_cut", client_order_id=order.client_order_id)
            self._require_desk().ctx.cancel_order(order.client_order_id)

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        order = self._book.orders.get(client_order_id)
        if order is None:
            self._warn("cancel_ignored", client_order_id=client_order_id, why="not open")
            return
        if filled > order.filled:
            # The final report says more filled than the trades we were told of: count
            # the difference at the order's price with the configured fee rate.
            amount = filled - order.filled
            price = order.price if order.price is not None else (self._book.last_price or _ZERO)
            self._warn("fill_unreported", client_order_id=client_order_id, amount=amount)
            fee = amount * price * self.config.fee_rate
            self._book.record_fill(order, price, amount, fee, self.config.quote)
        self._close(order)

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        """Also the way to drop a tracked order that vanished: it becomes a skipped level."""
        order = self._book.orders.pop(client_order_id, None)
        if order is None:
            self._warn("reject_ignored", client_order_id=client_order_id, why="not open")
            return
        self._warn("order_rejected", client_order_id=client_order_id, reason=reason)
        desk = self._require_desk()
        match order.role:
            case OrderRole.GRID:
                if self._book.slot_order[order.slot] == client_order_id:
                    self._book.slot_order[order.slot] = None
                desk.skip(order.slot, order.level, order.side, order.amount, reason)
            case OrderRole.ENTRY:
                skip_entry_slots(self._book, desk, f"initial market buy refused: {reason}")
            case OrderRole.EXIT:
                desk.skip(-1, MARKET_LEVEL, Side.SELL, order.amount, f"exit refused: {reason}")
                self._book.phase = Phase.STOPPED
            case _ as unreachable:
                assert_never(unreachable)
        self._maybe_finish_stop()

    # ------------------------------------------------------------- reconciliation (inv. 3)

    def tracks(self, client_order_id: str) -> bool:
        """True while ``client_order_id`` is one of this grid's open orders."""
        return client_order_id in self._book.orders

    def cancels_requested(self) -> list[str]:
        """Open orders whose cancel the grid asked for and has not seen confirmed (a cut
        partial buy, a stopping grid's orders): a reconciliation sends those cancels
        again, since the first may have been lost with a process that stopped."""
        return [cid for cid, o in self._book.orders.items() if o.cancel_requested]

    def tracked_orders(self) -> dict[str, OrderIntent]:
        """Every open order as the intent that placed it (to query, compare or re-send)."""
        symbol = self.config.symbol
        return {
            cid: OrderIntent(
                client_order_id=cid,
                symbol=symbol,
                side=o.side,
                type=OrderType.MARKET if o.price is None else OrderType.LIMIT,
                amount=o.amount,
                price=o.price,
            )
            for cid, o in self._book.orders.items()
        }

    def adopt_order(
        self, client_order_id: str, side: Side, price: Decimal, amount: Decimal, filled: Decimal
    ) -> AdoptOutcome:
        """Take over an open limit order of ours that the state lacks (an orphan).

        Call after :meth:`from_state` and after the tracked orders' fates are applied (ids
        are deterministic, so most orphans are tracked again by then). ``filled`` is booked
        at ``price`` with the configured fee rate; pass 0 and replay the order's trades
        through :meth:`on_order_filled` instead when they are known. ``FOREIGN`` orders
        are never touched; a ``SLOT_TAKEN`` one is a duplicate the runtime may cancel.
        """
        parsed = parse_client_order_id(client_order_id)
        if parsed is None or parsed.grid_tag != self._tag:
            outcome = AdoptOutcome.FOREIGN
        elif parsed.side is not side or parsed.is_market:
            outcome = AdoptOutcome.NOT_A_LEVEL
        else:
            outcome = self._book.adopt(
                client_order_id,
                parsed.level,
                side,
                parsed.cycle,
                price,
                amount,
                self.config.fee_rate,
            )
        self._warn("order_adopted", client_order_id=client_order_id, outcome=outcome.value)
        if outcome is AdoptOutcome.ADOPTED and filled > 0:
            order = self._book.orders[client_order_id]
            fee = filled * price * self.config.fee_rate
            self._book.record_fill(order, price, filled, fee, self.config.quote)
            if order.filled >= order.amount:
                self._close(order)
        return outcome

    # ------------------------------------------------------------------ state snapshots

    def get_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of everything needed to resume (see book.py)."""
        return self._book.to_json(self.grid_id, self.config.symbol)

    def from_state(self, state: Mapping[str, Any]) -> None:
        """Restore a snapshot (migrating older versions); call before :meth:`initialize`.

        Raises:
            StateError: wrong grid, unknown version, or a corrupt snapshot.
        """
        data = migrate_state(state)
        if data.get("grid_id") != self.grid_id:
            raise StateError(
                f"state of grid {data.get('grid_id')!r} given to grid {self.grid_id!r}"
            )
        self._book = GridBook.from_json(data, self.config.base, self.config.quote)
        self._restored = True
        if self._desk is not None:  # restored while bound: keep placing into the new book
            self._desk.book = self._book

    # -------------------------------------------------------------------- the mechanics

    def _start(self, price: Decimal) -> None:
        book, desk = self._book, self._require_desk()
        book.last_price = price
        if self._stop_low is not None and price < self._stop_low:
            reason: StopReason | None = StopReason.STOP_LOSS
        elif self._stop_high is not None and price > self._stop_high:
            reason = StopReason.TAKE_PROFIT
        else:
            reason = None
        if reason is not None:
            # Already beyond a stop on the first price: never open the grid.
            book.phase, book.stop_reason = Phase.STOPPED, reason
            self._warn("grid_not_started", price=price, reason=reason.value)
            return
        open_grid(book, desk, price, buy_above=self.config.initial_position is InitialPosition.BUY)

    def _stop(self, reason: StopReason, price: Decimal) -> None:
        book, desk = self._book, self._require_desk()
        book.phase, book.stop_reason, book.last_price = Phase.STOPPING, reason, price
        self._warn("grid_stopping", reason=reason.value, price=price)
        desk.alerts.append(
            GridAlert(
                grid=self.grid_id,
                kind=AlertKind.GRID_STOPPED,
                reason=f"{reason.value} at {price}",
                timestamp=desk.ctx.now_ms(),
            )
        )
        for cid, order in list(book.orders.items()):
            # A synchronous context may have closed it while we cancelled another.
            if not order.cancel_requested and cid in book.orders:
                order.cancel_requested = True
                desk.ctx.cancel_order(cid)
        self._maybe_finish_stop()

    def _maybe_finish_stop(self) -> None:
        """Once a stopping grid has no open order left, sell its base at market."""
        book = self._book
        if book.phase is not Phase.STOPPING or book.orders:
            return
        desk = self._require_desk()
        amount = desk.round(book.base_held)
        if amount > 0:
            refusal = desk.place_market(OrderRole.EXIT, Side.SELL, amount, book.last_price)
            if refusal is None:
                return
            desk.skip(-1, MARKET_LEVEL, Side.SELL, amount, f"exit sell: {refusal}")
        book.phase = Phase.STOPPED
        self._warn("grid_stopped", base_left=book.base_held)

    def _close(self, order: TrackedOrder) -> None:
        """The order is done (filled, or cancelled after some fills): react once."""
        del self._book.orders[order.client_order_id]
        match order.role:
            case OrderRole.GRID:
                close_grid_order(self._book, self._require_desk(), order)
            case OrderRole.ENTRY:
                close_entry(self._book, self._require_desk(), order)
            case OrderRole.EXIT:
                self._book.exit_proceeds += order.quote
                self._book.phase = Phase.STOPPED
                self._warn("grid_stopped", sold=order.filled, proceeds=order.quote)
            case _ as unreachable:
                assert_never(unreachable)
        self._maybe_finish_stop()

    def _warn(self, event: str, **fields: object) -> None:
        log_event(_WARNING, event, self.grid_id, **fields)

    def _require_desk(self) -> OrderPlacer:
        if self._desk is None:
            raise RuntimeError(f"grid {self.grid_id} is not initialized (call initialize first)")
        return self._desk

    def __repr__(self) -> str:
        book = self._book
        return (
            f"<GridTradingStrategy {self.grid_id} {self.config.symbol} {book.phase.value} "
            f"orders={len(book.orders)} cycles={book.completed_cycles} "
            f"profit={book.realized_profit}>"
        )
