"""``GridTradingStrategy``: a spot grid that keeps one order in every slot.

``N`` levels make ``N - 1`` slots; slot ``k`` lies between levels ``k`` and ``k + 1`` and
holds at most one order: a buy at level ``k`` or a sell at level ``k + 1`` (design
invariant 6). A filled buy is answered in the same slot by a sell of the base it bought;
a filled sell books the cycle's profit net of fees and re-places the buy.

On the first price the lowest level at or above it stays empty; slots below get buys,
and with ``initial_position = buy`` the slots above get sells of base bought at market
first. Every call into the context may call back into the strategy at once (a backtest
fills a market order inside ``place_order``), so the state is always updated *before*
the context is called.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, assert_never

from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.strategy.grid_book import BookView, GridBook
from gridsup.strategy.grid_config import GridConfig, InitialPosition
from gridsup.strategy.grid_state import (
    OrderRole,
    Phase,
    SkippedLevel,
    StateError,
    StopReason,
    TrackedOrder,
    migrate_state,
)
from gridsup.strategy.ids import MARKET_LEVEL, grid_tag, make_client_order_id_for_tag
from gridsup.strategy.levels import (
    calculate_order_size,
    first_level_at_or_above,
    grid_levels,
    round_amount,
)
from gridsup.strategy.protocols import ExecutionContext

__all__ = ["GridTradingStrategy", "OrderRole", "Phase", "SkippedLevel", "StopReason"]

_log = logging.getLogger(__name__)
_ZERO = Decimal(0)
_INF = float("inf")


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
        self._ctx: ExecutionContext | None = None
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
        return self._book.violations(every_slot_filled=full)

    # ------------------------------------------------------------------------ lifecycle

    def initialize(self, ctx: ExecutionContext) -> None:
        """Bind the context. Orders wait for the first price (:meth:`on_tick`).

        Raises:
            GridLevelsError: the levels collide at the market's tick size.
        """
        self._ctx = ctx
        if not self._restored:
            market = ctx.market
            levels = grid_levels(self.config, market)
            amounts = calculate_order_size(self.config, levels, market.amount_step)
            self._book = GridBook.fresh(levels, amounts, self.config.base, self.config.quote)

    def shutdown(self) -> None:
        """Stop reacting; open orders stay on the exchange for the next start to reconcile."""
        self._ctx = None

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
            self._log_warning(
                "fill_ignored", client_order_id=fill.client_order_id, note="not an open order"
            )
            return
        if fill.order_filled <= order.filled:
            # At-least-once delivery: a trade we have already counted.
            if fill.order_closed and fill.order_filled == order.filled:
                self._close(order)
            return
        self._book.record_fill(order, fill.price, fill.amount, fill.fee, fill.fee_currency)
        if fill.order_closed or order.filled >= order.amount:
            self._close(order)

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        order = self._book.orders.get(client_order_id)
        if order is None:
            self._log_warning(
                "cancel_ignored", client_order_id=client_order_id, note="not an open order"
            )
            return
        if filled > order.filled:
            self._book_unseen_fill(order, filled - order.filled)
        self._close(order)

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        order = self._book.orders.pop(client_order_id, None)
        if order is None:
            self._log_warning(
                "reject_ignored", client_order_id=client_order_id, note="not an open order"
            )
            return
        self._log_warning("order_rejected", client_order_id=client_order_id, reason=reason)
        match order.role:
            case OrderRole.GRID:
                self._book.slot_order[order.slot] = None
                self._skip(order.slot, order.level, order.side, order.amount, reason)
            case OrderRole.ENTRY:
                self._skip_entry_slots(f"initial market buy refused: {reason}")
            case OrderRole.EXIT:
                self._skip(
                    -1, MARKET_LEVEL, Side.SELL, order.amount, f"exit sell refused: {reason}"
                )
                self._book.phase = Phase.STOPPED
            case _ as unreachable:
                assert_never(unreachable)
        self._maybe_finish_stop()

    # ------------------------------------------------------------------ state snapshots

    def get_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of everything needed to resume (see grid_book.py)."""
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

    # -------------------------------------------------------------------- the mechanics

    def _start(self, price: Decimal) -> None:
        self._book.last_price = price
        if (self._stop_low is not None and price < self._stop_low) or (
            self._stop_high is not None and price > self._stop_high
        ):
            # Already beyond a stop on the first price: never open the grid.
            self._book.phase = Phase.STOPPED
            self._book.stop_reason = (
                StopReason.STOP_LOSS
                if self._stop_low is not None and price < self._stop_low
                else StopReason.TAKE_PROFIT
            )
            self._log_warning("grid_not_started", price=price, reason=self._book.stop_reason.value)
            return
        empty = first_level_at_or_above(self._book.levels, price)
        slots = len(self._book.slot_order)
        above: list[int] = []
        if self.config.initial_position is InitialPosition.BUY:
            for k in range(empty, slots):
                # Buy no base for a sell that the market's limits would refuse anyway.
                refusal = self._refusal(self._book.amounts[k], self._book.levels[k + 1])
                if refusal is None:
                    above.append(k)
                else:
                    self._skip(k, k + 1, Side.SELL, self._book.amounts[k], refusal)
        if above:
            self._book.phase = Phase.ENTERING
            self._book.entry_slots = above
        else:
            self._book.phase = Phase.RUNNING
        self._log_info("grid_started", price=price, empty_level=empty)
        for k in range(min(empty, slots)):
            self._place_grid(k, Side.BUY, self._book.amounts[k])
        if self._book.phase is Phase.ENTERING:
            need = sum((self._book.amounts[k] for k in above), _ZERO)
            self._place_market(OrderRole.ENTRY, Side.BUY, need, price)

    def _stop(self, reason: StopReason, price: Decimal) -> None:
        self._book.phase = Phase.STOPPING
        self._book.stop_reason = reason
        self._book.last_price = price
        self._log_warning("grid_stopping", reason=reason.value, price=price)
        ctx = self._require_ctx()
        for cid, order in list(self._book.orders.items()):
            if not order.cancel_requested and cid in self._book.orders:
                order.cancel_requested = True
                ctx.cancel_order(cid)
        self._maybe_finish_stop()

    def _maybe_finish_stop(self) -> None:
        if self._book.phase is not Phase.STOPPING or self._book.orders:
            return
        amount = round_amount(self._book.base_held, self._require_ctx().market.amount_step)
        if amount > 0 and self._place_market(
            OrderRole.EXIT, Side.SELL, amount, self._book.last_price
        ):
            return
        self._book.phase = Phase.STOPPED
        self._log_warning("grid_stopped", base_left=self._book.base_held)

    def _close(self, order: TrackedOrder) -> None:
        """The order is done (filled, or cancelled after some fills): react once."""
        del self._book.orders[order.client_order_id]
        match order.role:
            case OrderRole.GRID:
                self._close_grid(order)
            case OrderRole.ENTRY:
                self._close_entry(order)
            case OrderRole.EXIT:
                self._book.exit_proceeds += order.quote
                self._book.phase = Phase.STOPPED
                self._log_warning("grid_stopped", sold=order.filled, proceeds=order.quote)
            case _ as unreachable:
                assert_never(unreachable)
        self._maybe_finish_stop()

    def _close_grid(self, order: TrackedOrder) -> None:
        k = order.slot
        if self._book.slot_order[k] == order.client_order_id:
            self._book.slot_order[k] = None
        active = self._book.phase is Phase.RUNNING or self._book.phase is Phase.ENTERING
        filled = order.filled
        if order.side is Side.BUY:
            if filled > 0:
                self._book.slot_cost[k] = order.quote
                if active:
                    self._place_grid(k, Side.SELL, filled - order.base_fee)
            elif active and not order.cancel_requested:
                self._place_grid(k, Side.BUY, order.amount)  # cancelled by someone else
            return
        if filled > 0:
            self._book.book_sell(order)
            if active:
                amount = self._book.amounts[k] if filled >= order.amount else filled
                self._place_grid(k, Side.BUY, amount)
        elif active and not order.cancel_requested:
            self._place_grid(k, Side.SELL, order.amount)

    def _close_entry(self, order: TrackedOrder) -> None:
        slots, self._book.entry_slots = self._book.entry_slots, []
        if self._book.phase is Phase.ENTERING:
            self._book.phase = Phase.RUNNING
        net = order.filled - order.base_fee
        if net <= 0:
            self._book.entry_slots = slots
            self._skip_entry_slots("initial market buy filled nothing")
            return
        unit_cost = order.quote / net
        left = net
        for k in slots:
            amount = min(
                self._book.amounts[k], round_amount(left, self._require_ctx().market.amount_step)
            )
            left -= amount
            self._book.slot_cost[k] = amount * unit_cost
            if self._book.phase is Phase.RUNNING:
                self._place_grid(k, Side.SELL, amount)

    def _skip_entry_slots(self, reason: str) -> None:
        for k in self._book.entry_slots:
            self._skip(k, k + 1, Side.SELL, self._book.amounts[k], reason)
        self._book.entry_slots = []
        if self._book.phase is Phase.ENTERING:
            self._book.phase = Phase.RUNNING

    def _refusal(self, amount: Decimal, price: Decimal | None) -> str | None:
        """Why the market's limits would refuse this order (None: it may go)."""
        market = self._require_ctx().market
        if amount <= 0:
            return "amount rounds to zero"
        if market.min_amount is not None and amount < market.min_amount:
            return f"amount {amount} below the market's minimum {market.min_amount}"
        if (
            price is not None
            and market.min_notional is not None
            and amount * price < market.min_notional
        ):
            return f"notional {amount * price} below the market's minimum {market.min_notional}"
        return None

    def _place_grid(self, slot: int, side: Side, amount: Decimal) -> None:
        ctx = self._require_ctx()
        amount = round_amount(amount, ctx.market.amount_step)
        level = slot if side is Side.BUY else slot + 1
        price = self._book.levels[level]
        refusal = self._refusal(amount, price)
        if refusal is not None:
            self._skip(slot, level, side, amount, refusal)
            return
        cycle = self._book.slot_cycle[slot] + 1
        self._book.slot_cycle[slot] = cycle
        cid = make_client_order_id_for_tag(self._tag, level, side, cycle)
        self._book.orders[cid] = TrackedOrder(cid, OrderRole.GRID, slot, level, side, amount, price)
        self._book.slot_order[slot] = cid
        if self._book.skipped:
            self._book.skipped.pop(slot, None)
        ctx.place_order(
            OrderIntent(
                client_order_id=cid,
                symbol=self.config.symbol,
                side=side,
                type=OrderType.LIMIT,
                amount=amount,
                price=price,
            )
        )

    def _place_market(
        self, role: OrderRole, side: Side, amount: Decimal, price: Decimal | None
    ) -> bool:
        ctx = self._require_ctx()
        amount = round_amount(amount, ctx.market.amount_step)
        refusal = self._refusal(amount, price)
        if refusal is not None:
            if role is OrderRole.ENTRY:
                self._skip_entry_slots(f"initial market buy: {refusal}")
            else:
                self._skip(-1, MARKET_LEVEL, side, amount, f"exit sell: {refusal}")
            return False
        self._book.market_seq += 1
        cid = make_client_order_id_for_tag(self._tag, MARKET_LEVEL, side, self._book.market_seq)
        self._book.orders[cid] = TrackedOrder(cid, role, -1, MARKET_LEVEL, side, amount, None)
        ctx.place_order(
            OrderIntent(
                client_order_id=cid,
                symbol=self.config.symbol,
                side=side,
                type=OrderType.MARKET,
                amount=amount,
                price=None,
            )
        )
        return True

    def _skip(self, slot: int, level: int, side: Side, amount: Decimal, reason: str) -> None:
        ctx = self._ctx
        now = ctx.now_ms() if ctx is not None else 0
        self._book.skipped[slot] = SkippedLevel(slot, level, side, amount, reason, now)
        self._log_warning("level_skipped", slot=slot, level=level, side=side.value, reason=reason)

    def _book_unseen_fill(self, order: TrackedOrder, amount: Decimal) -> None:
        # The order's final report says more filled than the trades we were told of:
        # count the difference at the order's price with the configured fee rate.
        price = order.price if order.price is not None else (self._book.last_price or _ZERO)
        self._log_warning("fill_unreported", client_order_id=order.client_order_id, amount=amount)
        self._book.record_fill(
            order, price, amount, amount * price * self.config.fee_rate, self.config.quote
        )

    def _log_warning(self, event: str, **fields: object) -> None:
        # snake_case past-tense event, then key=value pairs (stdlib logging: no structlog
        # in strategy/, whose processes must stay light).
        _log.warning("%s grid=%s %s", event, self.grid_id, _pairs(fields))

    def _log_info(self, event: str, **fields: object) -> None:
        _log.info("%s grid=%s %s", event, self.grid_id, _pairs(fields))

    def _require_ctx(self) -> ExecutionContext:
        if self._ctx is None:
            raise RuntimeError(
                f"grid {self.grid_id} is not initialized (call initialize(ctx) first)"
            )
        return self._ctx

    def __repr__(self) -> str:
        return (
            f"<GridTradingStrategy {self.grid_id} {self.config.symbol} {self._book.phase.value} "
            f"orders={len(self._book.orders)} cycles={self._book.completed_cycles} "
            f"profit={self._book.realized_profit}>"
        )


def _pairs(fields: Mapping[str, object]) -> str:
    return " ".join(f"{key}={value}" for key, value in fields.items())
