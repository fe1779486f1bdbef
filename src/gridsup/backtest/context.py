"""``BacktestContext``: the ``ExecutionContext`` a strategy sees in a backtest.

Orders go to a ``PaperExchange``; what becomes of them (fills, cancels, refusals) is
queued and handed to the strategy only once the strategy's current handler has
returned, as an execution actor would deliver it live. Handing events over
re-entrantly (from inside ``place_order``) would let a strategy observe a fill of an
order it has not finished recording yet.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import assert_never

import structlog

from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.fill_report import fill_report
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus
from gridsup.messages.market import MarketInfo
from gridsup.strategy.protocols import Strategy

log = structlog.get_logger(__name__)

# The report lists the first refusals; the count is always exact.
MAX_KEPT_REJECTIONS = 100


class EventKind(enum.Enum):
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One outcome waiting to be handed to the strategy."""

    kind: EventKind
    client_order_id: str
    fill: FillReport | None = None
    filled: Decimal = Decimal(0)
    reason: str = ""


@dataclass(slots=True)
class _Tracked:
    """What the context remembers of one order it placed."""

    order_id: str
    amount: Decimal
    filled: Decimal = Decimal(0)


@dataclass(slots=True)
class ContextStats:
    """Counters for the backtest report."""

    placed: int = 0
    rejected: int = 0
    cancelled: int = 0
    fills: int = 0
    rejections: list[tuple[int, str, str]] = field(default_factory=list)


class BacktestContext:
    """An ``ExecutionContext`` over a ``PaperExchange`` whose time is the candle time.

    The engine sets the time (``set_time``), feeds prices to the paper exchange and
    passes the resulting trades to ``on_trades``; ``dispatch`` then hands every queued
    outcome to the strategy, including those its handlers cause in turn.
    """

    def __init__(self, paper: PaperExchange, market: MarketInfo) -> None:
        self._paper = paper
        self._market = market
        self._now = 0
        self._strategy: Strategy | None = None
        self._orders: dict[str, _Tracked] = {}  # client order id -> order
        self._by_order_id: dict[str, str] = {}  # paper order id -> client order id
        self._queue: deque[OrderEvent] = deque()
        self.stats = ContextStats()

    # -- ExecutionContext ---------------------------------------------------------

    @property
    def market(self) -> MarketInfo:
        return self._market

    def now_ms(self) -> int:
        return self._now

    def place_order(self, intent: OrderIntent) -> None:
        """Send the order to the paper exchange; a refusal comes back as
        ``on_order_rejected``, a market order's fill as ``on_order_filled``."""
        try:
            order = self._paper.create_order(
                intent.symbol,
                intent.side,
                intent.type,
                intent.amount,
                intent.price,
                client_order_id=intent.client_order_id,
            )
        except ExchangeError as exc:
            # A refusal is an ordinary outcome of a backtest (funds, minimums): the
            # strategy learns of it and reports the level as skipped.
            reason = f"{type(exc).__name__}: {exc}"
            log.warning(
                "backtest_order_rejected",
                client_order_id=intent.client_order_id,
                reason=reason,
                timestamp=self._now,
            )
            self.stats.rejected += 1
            if len(self.stats.rejections) < MAX_KEPT_REJECTIONS:
                self.stats.rejections.append((self._now, intent.client_order_id, reason))
            self._queue.append(
                OrderEvent(EventKind.REJECTED, intent.client_order_id, reason=reason)
            )
            return
        self.stats.placed += 1
        self._orders[intent.client_order_id] = _Tracked(order.id, order.amount)
        self._by_order_id[order.id] = intent.client_order_id
        if order.filled > 0:
            # Market orders (and any order the paper engine matched on arrival) have
            # traded already.
            self.on_trades(self._paper.order_trades(order.id))

    def cancel_order(self, client_order_id: str) -> None:
        """Cancel at the paper exchange; the outcome comes back as ``on_order_cancelled``."""
        tracked = self._orders.get(client_order_id)
        if tracked is None:
            # Finished orders are forgotten (their outcome was reported already).
            log.warning("backtest_cancel_ignored", client_order_id=client_order_id)
            return
        try:
            order = self._paper.cancel_order(tracked.order_id, self._market.symbol)
        except ExchangeError as exc:
            log.warning(
                "backtest_cancel_failed",
                client_order_id=client_order_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        self._finish_cancel(client_order_id, tracked, order)

    # -- driven by the engine -----------------------------------------------------

    def bind(self, strategy: Strategy) -> None:
        """Set the strategy that ``dispatch`` hands outcomes to."""
        self._strategy = strategy

    def set_time(self, timestamp_ms: int) -> None:
        self._now = timestamp_ms

    def on_trades(self, trades: list[Trade]) -> None:
        """Queue one ``FillReport`` per trade of ours, in the order the exchange made them."""
        for trade in trades:
            cid = trade.client_order_id or self._by_order_id.get(trade.order_id)
            tracked = self._orders.get(cid) if cid is not None else None
            if cid is None or tracked is None:
                log.warning("backtest_foreign_trade_ignored", trade_id=trade.id)
                continue
            tracked.filled += trade.amount
            closed = tracked.filled >= tracked.amount
            self.stats.fills += 1
            report = fill_report(
                trade, client_order_id=cid, order_filled=tracked.filled, order_closed=closed
            )
            self._queue.append(OrderEvent(EventKind.FILLED, cid, fill=report))
            if closed:
                self._forget(cid, tracked)

    def dispatch(self) -> None:
        """Hand every queued outcome to the strategy, until none is left."""
        strategy = self._strategy
        assert strategy is not None, "bind() a strategy before dispatching"
        queue = self._queue
        while queue:
            event = queue.popleft()
            match event.kind:
                case EventKind.FILLED:
                    assert event.fill is not None
                    strategy.on_order_filled(event.fill)
                case EventKind.CANCELLED:
                    strategy.on_order_cancelled(event.client_order_id, event.filled)
                case EventKind.REJECTED:
                    strategy.on_order_rejected(event.client_order_id, event.reason)
                case _:
                    assert_never(event.kind)

    @property
    def pending(self) -> int:
        """Outcomes not yet handed to the strategy."""
        return len(self._queue)

    # -- internals ----------------------------------------------------------------

    def _finish_cancel(self, cid: str, tracked: _Tracked, order: Order) -> None:
        if order.status is OrderStatus.CLOSED:
            # It filled before the cancel arrived: the fills tell the whole story.
            return
        self.stats.cancelled += 1
        self._queue.append(OrderEvent(EventKind.CANCELLED, cid, filled=order.filled))
        self._forget(cid, tracked)

    def _forget(self, cid: str, tracked: _Tracked) -> None:
        # Bounded memory: a finished order needs no lookup any more (its trades are
        # all reported), so a long backtest keeps only the open ones.
        self._orders.pop(cid, None)
        self._by_order_id.pop(tracked.order_id, None)
