"""``LadderStrategy``: a deliberately small test double for the backtest engine.

It buys ``amount`` at every level below the first price, sells what a buy filled one
level up, and re-buys when a sell fills: enough to exercise fills, counter orders,
refusals and the tick band, with books kept independently of the real grid strategy
so the engine is tested on its own. ``wants_every_tick`` turns the band off
(``tick_band() -> None``); ``exit_below`` sells everything at market under a price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.strategy.protocols import ExecutionContext


class LadderStrategy:
    name = "ladder"

    def __init__(
        self,
        levels: list[Decimal],
        amount: Decimal,
        *,
        wants_every_tick: bool = False,
        exit_below: Decimal | None = None,
    ) -> None:
        self.levels = tuple(levels)
        self.amount = amount
        self.wants_every_tick = wants_every_tick
        self.exit_below = exit_below
        self.ctx: ExecutionContext | None = None
        self.started = False
        self.stopped = False
        self.realized_profit = Decimal(0)
        self.fees_paid = Decimal(0)
        self.completed_cycles = 0
        self.booked: list[Decimal] = []  # one entry per completed cycle
        self.rejected: list[str] = []
        self.fills: list[FillReport] = []
        self.ticks = 0
        self._open: dict[str, tuple[int, Side, Decimal]] = {}  # cid -> level, side, price
        self._cost: dict[int, Decimal] = {}  # slot -> cost of its buy, fee included
        self._seq = 0

    # -- Strategy -----------------------------------------------------------------

    def initialize(self, ctx: ExecutionContext) -> None:
        self.ctx = ctx

    def on_tick(self, tick: Tick) -> None:
        self.ticks += 1
        if not self.started:
            self.started = True
            for i, level in enumerate(self.levels):
                if level < tick.last:
                    self._place(i, Side.BUY)
            return
        if self.exit_below is not None and not self.stopped and tick.last <= self.exit_below:
            self.stopped = True
            assert self.ctx is not None
            for cid in list(self._open):
                self.ctx.cancel_order(cid)
            held = sum(
                (self.amount for _, side, _ in self._open.values() if side is Side.SELL), Decimal(0)
            )
            if held > 0:
                self._send(
                    OrderIntent(
                        client_order_id=f"exit{self._seq}",
                        symbol=self._symbol,
                        side=Side.SELL,
                        type=OrderType.MARKET,
                        amount=held,
                    )
                )

    def on_order_filled(self, fill: FillReport) -> None:
        self.fills.append(fill)
        self.fees_paid += fill.fee
        if not fill.order_closed or fill.client_order_id not in self._open:
            return
        level, side, price = self._open.pop(fill.client_order_id)
        if side is Side.BUY:
            self._cost[level] = fill.amount * price + fill.fee
            self._place(level + 1, Side.SELL)
        else:
            profit = fill.amount * price - fill.fee - self._cost.pop(level - 1)
            self.booked.append(profit)
            self.realized_profit += profit
            self.completed_cycles += 1
            self._place(level - 1, Side.BUY)

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        self._open.pop(client_order_id, None)

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        self.rejected.append(reason)
        self._open.pop(client_order_id, None)

    def get_state(self) -> dict[str, Any]:
        return {"version": 1}

    def from_state(self, state: Mapping[str, Any]) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def tick_band(self) -> tuple[float, float] | None:
        if self.wants_every_tick:
            return None
        if not self.started:
            return None
        if self.exit_below is not None and not self.stopped:
            return (float(self.exit_below), float("inf"))
        return (float("-inf"), float("inf"))

    # -- helpers ------------------------------------------------------------------

    def open_orders(self) -> dict[str, tuple[int, Side, Decimal]]:
        return dict(self._open)

    @property
    def _symbol(self) -> str:
        assert self.ctx is not None
        return self.ctx.market.symbol

    def _place(self, level: int, side: Side) -> None:
        if self.stopped or not 0 <= level < len(self.levels):
            return
        self._seq += 1
        cid = f"l{level}{side.value[0]}{self._seq}"
        price = self.levels[level]
        self._open[cid] = (level, side, price)
        self._send(
            OrderIntent(
                client_order_id=cid,
                symbol=self._symbol,
                side=side,
                type=OrderType.LIMIT,
                amount=self.amount,
                price=price,
            )
        )

    def _send(self, intent: OrderIntent) -> None:
        assert self.ctx is not None
        self.ctx.place_order(intent)
