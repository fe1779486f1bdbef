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
from typing import Any, ClassVar

from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.strategy.grid_config import GridConfig, InitialPosition
from gridsup.strategy.grid_state import (
    STATE_VERSION,
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


class GridTradingStrategy:
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
        self._base = config.base
        self._quote = config.quote
        self._ctx: ExecutionContext | None = None
        self._restored = False
        self._set_levels(grid_levels(config))
        self._orders: dict[str, TrackedOrder] = {}
        self._market_seq = 0
        self._entry_slots: list[int] = []
        self._phase = Phase.WAITING_PRICE
        self._stop_reason: StopReason | None = None
        self._last_price: Decimal | None = None
        self._base_held = _ZERO
        self.realized_profit = _ZERO
        self.fees_paid = _ZERO  # in quote; fees in a third currency go to other_fees
        self.other_fees: dict[str, Decimal] = {}
        self.completed_cycles = 0
        self.exit_proceeds = _ZERO
        self._skipped: dict[int, SkippedLevel] = {}
        self._stop_low = config.stop_loss_price
        self._stop_high = config.take_profit_price
        self._band = (
            float(self._stop_low) if self._stop_low is not None else -_INF,
            float(self._stop_high) if self._stop_high is not None else _INF,
        )

    def _set_levels(
        self, levels: tuple[Decimal, ...], amounts: tuple[Decimal, ...] | None = None
    ) -> None:
        self.levels = levels
        self._amounts = (
            amounts if amounts is not None else calculate_order_size(self.config, levels)
        )
        slots = len(levels) - 1
        self._slot_order: list[str | None] = [None] * slots
        self._slot_cycle = [0] * slots
        self._slot_cost = [_ZERO] * slots  # cost (quote, fees included) of a sell's base

    # ----------------------------------------------------------------- read-only figures

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def stopped(self) -> bool:
        return self._phase in (Phase.STOPPING, Phase.STOPPED)

    @property
    def stop_reason(self) -> StopReason | None:
        return self._stop_reason

    @property
    def base_held(self) -> Decimal:
        """Base the grid owns (bought minus sold, net of base fees)."""
        return self._base_held

    @property
    def order_amounts(self) -> tuple[Decimal, ...]:
        """Base amount of each slot's buy."""
        return self._amounts

    @property
    def skipped_levels(self) -> tuple[SkippedLevel, ...]:
        """Orders the grid wanted but the exchange or the market's limits refused."""
        return tuple(self._skipped[k] for k in sorted(self._skipped))

    def open_orders(self) -> dict[str, tuple[int, Side, Decimal, Decimal | None]]:
        """client order id -> (level index, side, amount, price) of every open order."""
        return {cid: (o.level, o.side, o.amount, o.price) for cid, o in self._orders.items()}

    def tick_band(self) -> tuple[float, float] | None:
        """Open interval of prices inside which :meth:`on_tick` does nothing.

        ``None`` until the first price is known (that tick places the orders).
        """
        if self._phase is Phase.WAITING_PRICE:
            return None
        if self._phase is Phase.ENTERING or self._phase is Phase.RUNNING:
            return self._band
        return (-_INF, _INF)

    def slot_invariant_violations(self) -> list[str]:
        """Breaches of invariant 6 (empty when it holds); tests call this after every event."""
        problems: list[str] = []
        seen: dict[int, str] = {}
        for cid, order in self._orders.items():
            if order.role is not OrderRole.GRID:
                continue
            k = order.slot
            if k in seen:
                problems.append(f"slot {k} holds two orders: {seen[k]} and {cid}")
            seen[k] = cid
            expected = k if order.side is Side.BUY else k + 1
            if order.level != expected or order.price != self.levels[expected]:
                problems.append(f"{cid}: {order.side.value} at level {order.level} in slot {k}")
            if self._slot_order[k] != cid:
                problems.append(f"slot {k} does not point at its order {cid}")
        for k, pointed in enumerate(self._slot_order):
            if pointed is not None and seen.get(k) != pointed:
                problems.append(f"slot {k} points at {pointed}, which is not open")
        if self.config.initial_position is InitialPosition.BUY and self._phase is Phase.RUNNING:
            for k in range(len(self._slot_order)):
                if k not in seen and k not in self._skipped:
                    problems.append(f"slot {k} is empty and not reported as skipped")
        return problems

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
            self._set_levels(levels, calculate_order_size(self.config, levels, market.amount_step))

    def shutdown(self) -> None:
        """Stop reacting; open orders stay on the exchange for the next start to reconcile."""
        self._ctx = None

    def on_tick(self, tick: Tick) -> None:
        price = tick.last
        phase = self._phase
        if phase is Phase.ENTERING or phase is Phase.RUNNING:
            if self._stop_low is not None and price < self._stop_low:
                self._stop(StopReason.STOP_LOSS, price)
            elif self._stop_high is not None and price > self._stop_high:
                self._stop(StopReason.TAKE_PROFIT, price)
        elif phase is Phase.WAITING_PRICE:
            self._start(price)

    def on_order_filled(self, fill: FillReport) -> None:
        order = self._orders.get(fill.client_order_id)
        if order is None:
            _log.warning(
                "fill_ignored client_order_id=%s (not an open order of %s)",
                fill.client_order_id,
                self.grid_id,
            )
            return
        if fill.order_filled <= order.filled:
            # At-least-once delivery: a trade we have already counted.
            if fill.order_closed and fill.order_filled == order.filled:
                self._close(order)
            return
        amount = fill.amount
        notional = fill.price * amount
        fee = fill.fee
        fee_quote = fee_base = _ZERO
        if fee:
            currency = fill.fee_currency
            if currency == self._quote:
                fee_quote = fee
                self.fees_paid += fee
            elif currency == self._base:
                fee_base = fee
                order.base_fee += fee
                self.fees_paid += fee * fill.price
            else:
                self.other_fees[currency] = self.other_fees.get(currency, _ZERO) + fee
        if order.side is Side.BUY:
            order.quote += notional + fee_quote
            self._base_held += amount - fee_base
        else:
            order.quote += notional - fee_quote
            self._base_held -= amount + fee_base
        order.filled += amount
        if fill.order_closed or order.filled >= order.amount:
            self._close(order)

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        order = self._orders.get(client_order_id)
        if order is None:
            _log.warning(
                "cancel_ignored client_order_id=%s (not an open order of %s)",
                client_order_id,
                self.grid_id,
            )
            return
        if filled > order.filled:
            self._book_unseen_fill(order, filled - order.filled)
        self._close(order)

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        order = self._orders.pop(client_order_id, None)
        if order is None:
            _log.warning(
                "reject_ignored client_order_id=%s (not an open order of %s)",
                client_order_id,
                self.grid_id,
            )
            return
        _log.warning(
            "order_rejected grid=%s client_order_id=%s reason=%s",
            self.grid_id,
            client_order_id,
            reason,
        )
        if order.role is OrderRole.GRID:
            self._slot_order[order.slot] = None
            self._skip(order.slot, order.level, order.side, order.amount, reason)
        elif order.role is OrderRole.ENTRY:
            self._skip_entry_slots(f"initial market buy refused: {reason}")
        else:
            self._skip(-1, MARKET_LEVEL, Side.SELL, order.amount, f"exit sell refused: {reason}")
            self._phase = Phase.STOPPED
        self._maybe_finish_stop()

    # ------------------------------------------------------------------ state snapshots

    def get_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of everything needed to resume (see grid_state.py)."""
        return {
            "version": STATE_VERSION,
            "grid_id": self.grid_id,
            "symbol": self.config.symbol,
            "phase": self._phase.value,
            "stop_reason": None if self._stop_reason is None else self._stop_reason.value,
            "levels": [str(p) for p in self.levels],
            "amounts": [str(a) for a in self._amounts],
            "slot_cycle": list(self._slot_cycle),
            "slot_cost": [str(c) for c in self._slot_cost],
            "market_seq": self._market_seq,
            "entry_slots": list(self._entry_slots),
            "last_price": None if self._last_price is None else str(self._last_price),
            "base_held": str(self._base_held),
            "realized_profit": str(self.realized_profit),
            "fees_paid": str(self.fees_paid),
            "other_fees": {k: str(v) for k, v in sorted(self.other_fees.items())},
            "completed_cycles": self.completed_cycles,
            "exit_proceeds": str(self.exit_proceeds),
            "skipped": [s.to_json() for s in self.skipped_levels],
            "orders": [o.to_json() for o in self._orders.values()],
        }

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
        try:
            levels = tuple(Decimal(p) for p in data["levels"])
            amounts = tuple(Decimal(a) for a in data["amounts"])
            if len(levels) < 2 or len(amounts) != len(levels) - 1:
                raise StateError(f"state has {len(levels)} levels and {len(amounts)} amounts")
            self._set_levels(levels, amounts)
            self._slot_cycle = [int(c) for c in data["slot_cycle"]]
            self._slot_cost = [Decimal(c) for c in data["slot_cost"]]
            self._market_seq = int(data["market_seq"])
            self._entry_slots = [int(k) for k in data["entry_slots"]]
            self._phase = Phase(data["phase"])
            reason = data["stop_reason"]
            self._stop_reason = None if reason is None else StopReason(reason)
            last = data["last_price"]
            self._last_price = None if last is None else Decimal(last)
            self._base_held = Decimal(data["base_held"])
            self.realized_profit = Decimal(data["realized_profit"])
            self.fees_paid = Decimal(data["fees_paid"])
            self.other_fees = {str(k): Decimal(v) for k, v in data["other_fees"].items()}
            self.completed_cycles = int(data["completed_cycles"])
            self.exit_proceeds = Decimal(data["exit_proceeds"])
            skipped = (SkippedLevel.from_json(s) for s in data["skipped"])
            self._skipped = {s.slot: s for s in skipped}
            self._orders = {}
            for raw in data["orders"]:
                order = TrackedOrder.from_json(raw)
                self._orders[order.client_order_id] = order
                if order.role is OrderRole.GRID:
                    self._slot_order[order.slot] = order.client_order_id
        except (KeyError, TypeError, ValueError, ArithmeticError, IndexError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"corrupt grid state: {exc!r}") from exc
        if len(self._slot_cycle) != len(self._slot_order) or len(self._slot_cost) != len(
            self._slot_order
        ):
            raise StateError("corrupt grid state: per-slot lists differ in length")
        self._restored = True

    # -------------------------------------------------------------------- the mechanics

    def _start(self, price: Decimal) -> None:
        self._last_price = price
        if (self._stop_low is not None and price < self._stop_low) or (
            self._stop_high is not None and price > self._stop_high
        ):
            # Already beyond a stop on the first price: never open the grid.
            self._phase = Phase.STOPPED
            self._stop_reason = (
                StopReason.STOP_LOSS
                if self._stop_low is not None and price < self._stop_low
                else StopReason.TAKE_PROFIT
            )
            _log.warning(
                "grid_not_started grid=%s price=%s reason=%s",
                self.grid_id,
                price,
                self._stop_reason.value,
            )
            return
        empty = first_level_at_or_above(self.levels, price)
        slots = len(self._slot_order)
        above: list[int] = []
        if self.config.initial_position is InitialPosition.BUY:
            for k in range(empty, slots):
                # Buy no base for a sell that the market's limits would refuse anyway.
                refusal = self._refusal(self._amounts[k], self.levels[k + 1])
                if refusal is None:
                    above.append(k)
                else:
                    self._skip(k, k + 1, Side.SELL, self._amounts[k], refusal)
        if above:
            self._phase = Phase.ENTERING
            self._entry_slots = above
        else:
            self._phase = Phase.RUNNING
        _log.info("grid_started grid=%s price=%s empty_level=%s", self.grid_id, price, empty)
        for k in range(min(empty, slots)):
            self._place_grid(k, Side.BUY, self._amounts[k])
        if self._phase is Phase.ENTERING:
            need = sum((self._amounts[k] for k in above), _ZERO)
            self._place_market(OrderRole.ENTRY, Side.BUY, need, price)

    def _stop(self, reason: StopReason, price: Decimal) -> None:
        self._phase = Phase.STOPPING
        self._stop_reason = reason
        self._last_price = price
        _log.warning("grid_stopping grid=%s reason=%s price=%s", self.grid_id, reason.value, price)
        ctx = self._require_ctx()
        for cid, order in list(self._orders.items()):
            if not order.cancel_requested and cid in self._orders:
                order.cancel_requested = True
                ctx.cancel_order(cid)
        self._maybe_finish_stop()

    def _maybe_finish_stop(self) -> None:
        if self._phase is not Phase.STOPPING or self._orders:
            return
        amount = round_amount(self._base_held, self._require_ctx().market.amount_step)
        if amount > 0 and self._place_market(OrderRole.EXIT, Side.SELL, amount, self._last_price):
            return
        self._phase = Phase.STOPPED
        _log.warning("grid_stopped grid=%s base_left=%s", self.grid_id, self._base_held)

    def _close(self, order: TrackedOrder) -> None:
        """The order is done (filled, or cancelled after some fills): react once."""
        del self._orders[order.client_order_id]
        role = order.role
        if role is OrderRole.GRID:
            self._close_grid(order)
        elif role is OrderRole.ENTRY:
            self._close_entry(order)
        else:
            self.exit_proceeds += order.quote
            self._phase = Phase.STOPPED
            _log.warning(
                "grid_stopped grid=%s sold=%s proceeds=%s", self.grid_id, order.filled, order.quote
            )
        self._maybe_finish_stop()

    def _close_grid(self, order: TrackedOrder) -> None:
        k = order.slot
        if self._slot_order[k] == order.client_order_id:
            self._slot_order[k] = None
        active = self._phase is Phase.RUNNING or self._phase is Phase.ENTERING
        filled = order.filled
        if order.side is Side.BUY:
            if filled > 0:
                self._slot_cost[k] = order.quote
                if active:
                    self._place_grid(k, Side.SELL, filled - order.base_fee)
            elif active and not order.cancel_requested:
                self._place_grid(k, Side.BUY, order.amount)  # cancelled by someone else
            return
        if filled > 0:
            cost = self._slot_cost[k]
            if filled < order.amount:
                cost = cost * filled / order.amount
                self._slot_cost[k] -= cost
            else:
                self._slot_cost[k] = _ZERO
                self.completed_cycles += 1
            self.realized_profit += order.quote - cost
            if active:
                amount = self._amounts[k] if filled >= order.amount else filled
                self._place_grid(k, Side.BUY, amount)
        elif active and not order.cancel_requested:
            self._place_grid(k, Side.SELL, order.amount)

    def _close_entry(self, order: TrackedOrder) -> None:
        slots, self._entry_slots = self._entry_slots, []
        if self._phase is Phase.ENTERING:
            self._phase = Phase.RUNNING
        net = order.filled - order.base_fee
        if net <= 0:
            self._entry_slots = slots
            self._skip_entry_slots("initial market buy filled nothing")
            return
        unit_cost = order.quote / net
        left = net
        for k in slots:
            amount = min(
                self._amounts[k], round_amount(left, self._require_ctx().market.amount_step)
            )
            left -= amount
            self._slot_cost[k] = amount * unit_cost
            if self._phase is Phase.RUNNING:
                self._place_grid(k, Side.SELL, amount)

    def _skip_entry_slots(self, reason: str) -> None:
        for k in self._entry_slots:
            self._skip(k, k + 1, Side.SELL, self._amounts[k], reason)
        self._entry_slots = []
        if self._phase is Phase.ENTERING:
            self._phase = Phase.RUNNING

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
        price = self.levels[level]
        refusal = self._refusal(amount, price)
        if refusal is not None:
            self._skip(slot, level, side, amount, refusal)
            return
        cycle = self._slot_cycle[slot] + 1
        self._slot_cycle[slot] = cycle
        cid = make_client_order_id_for_tag(self._tag, level, side, cycle)
        self._orders[cid] = TrackedOrder(cid, OrderRole.GRID, slot, level, side, amount, price)
        self._slot_order[slot] = cid
        if self._skipped:
            self._skipped.pop(slot, None)
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
        self._market_seq += 1
        cid = make_client_order_id_for_tag(self._tag, MARKET_LEVEL, side, self._market_seq)
        self._orders[cid] = TrackedOrder(cid, role, -1, MARKET_LEVEL, side, amount, None)
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
        self._skipped[slot] = SkippedLevel(slot, level, side, amount, reason, now)
        _log.warning(
            "level_skipped grid=%s slot=%s level=%s side=%s reason=%s",
            self.grid_id,
            slot,
            level,
            side.value,
            reason,
        )

    def _book_unseen_fill(self, order: TrackedOrder, amount: Decimal) -> None:
        # The order's final report says more filled than the trades we were told of:
        # count the difference at the order's price with the configured fee rate.
        price = order.price if order.price is not None else (self._last_price or _ZERO)
        _log.warning(
            "fill_unreported grid=%s client_order_id=%s amount=%s",
            self.grid_id,
            order.client_order_id,
            amount,
        )
        notional = price * amount
        fee = notional * self.config.fee_rate
        self.fees_paid += fee
        if order.side is Side.BUY:
            order.quote += notional + fee
            self._base_held += amount
        else:
            order.quote += notional - fee
            self._base_held -= amount
        order.filled += amount

    def _require_ctx(self) -> ExecutionContext:
        if self._ctx is None:
            raise RuntimeError(
                f"grid {self.grid_id} is not initialized (call initialize(ctx) first)"
            )
        return self._ctx

    def __repr__(self) -> str:
        return (
            f"<GridTradingStrategy {self.grid_id} {self.config.symbol} {self._phase.value} "
            f"orders={len(self._orders)} cycles={self.completed_cycles} "
            f"profit={self.realized_profit}>"
        )
