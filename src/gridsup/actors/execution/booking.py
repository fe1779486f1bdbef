"""Booking what the exchange says about our orders: fills and final states become
store requests (fills, order events) and sequence-numbered OrderUpdates, and move the
grids' positions. Synchronous on purpose: an update's ``seq`` is taken here and the
execution actor commits it in the same step, so updates leave in sequence order.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from decimal import Decimal

import structlog

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.fees import FeePrices
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.tracked_orders import TrackedOrder, TrackedOrders, intent_of
from gridsup.actors.run_config import RunConfig, topic
from gridsup.exchange.errors import OrderNotFound
from gridsup.exchange.fill_report import fill_report
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import FillReport, OrderStatus
from gridsup.messages.orders import OrderUpdate
from gridsup.messages.store import RecordFill, RecordOrderEvent, StoreRequest
from gridsup.strategy.ids import grid_tag, parse_client_order_id

Records = tuple[list[StoreRequest], list[OutboxEntry]]
log = structlog.get_logger("gridsup.actors.execution")


def rid() -> str:
    return uuid.uuid4().hex


class Booking:
    """Sequence numbers per grid, fill records and events of one execution actor."""

    def __init__(
        self, run: RunConfig, book: TrackedOrders, budgets: Budgets, exchange: str, epoch: int
    ) -> None:
        self.run = run
        self.book = book
        self.budgets = budgets
        self.exchange = exchange  # "paper" in dry-run, else the ccxt id
        self.epoch = epoch
        self.seq: dict[str, int] = defaultdict(int)
        self.fills = 0
        self.ledger_changed = False  # positions moved since the last save
        self._by_tag = {grid_tag(g.grid_id): g.name for g in run.grids}
        self.fee_prices = FeePrices()

    def assets_of(self, symbol: str) -> tuple[str, str]:
        """(base, quote) of ``symbol`` ("" for a market the run does not trade)."""
        market = self.run.markets.get(symbol)
        return ("", "") if market is None else (market.base, market.quote)

    def grid_of(self, cid: str | None) -> str | None:
        """The name of the grid that ``cid`` belongs to; None for a foreign order."""
        parsed = parse_client_order_id(cid)
        return None if parsed is None else self._by_tag.get(parsed.grid_tag)

    def absorb(self, tracked: TrackedOrder, order: Order, trades: list[Trade]) -> Records:
        """Bring ``tracked`` to what the exchange says: book new trades (fill records and
        updates) and a final status. Synchronous on purpose (see the module docstring)."""
        tracked.exchange_order_id = order.id
        tracked.placed = True
        tracked.placed_at = tracked.placed_at or order.timestamp
        tracked.amount = order.amount
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        base, quote = self.assets_of(order.symbol)
        for trade in sorted(trades, key=lambda t: (t.timestamp, t.id)):
            fee_quote = None
            if trade.fee and trade.fee_currency not in (base, quote):
                fee_quote = self.fee_prices.value(trade.fee, trade.fee_currency, quote)
                if fee_quote is None:
                    log.warning("fee_not_valued", trade_id=trade.id, asset=trade.fee_currency)
            report = tracked.apply_trade(trade, order.amount, fee_quote)
            if report is None:
                continue
            self.fills += 1
            self.budgets.on_fill(tracked.grid, report, base)
            self.ledger_changed = True
            requests.append(
                RecordFill(
                    request_id=rid(),
                    grid_id=tracked.grid,
                    exchange=self.exchange,
                    exchange_order_id=order.id,
                    fill=report,
                )
            )
            requests.append(self.event(tracked, tracked.status, f"fill:{trade.id}", "filled"))
            actions.append(self.update(tracked, fill=report))
        final = order.status.is_final and tracked.status is OrderStatus.OPEN
        if final and (order.status is not OrderStatus.CLOSED or tracked.filled >= order.filled):
            tracked.status = order.status
            requests.append(self.event(tracked, order.status, order.status.value))
            actions.append(self.update(tracked))
        self.book.settle(tracked)
        return requests, actions

    def update(self, tracked: TrackedOrder, fill: FillReport | None = None) -> OutboxEntry:
        self.seq[tracked.grid] += 1
        update = OrderUpdate(
            strategy=tracked.grid,
            seq=self.seq[tracked.grid],
            epoch=self.epoch,
            client_order_id=tracked.cid,
            status=tracked.status,
            filled=tracked.filled,
            fill=fill,
        )
        return ("publish", topic(tracked.grid), update)

    def event(
        self, tracked: TrackedOrder, status: OrderStatus, key: str, reason: str | None = None
    ) -> RecordOrderEvent:
        return RecordOrderEvent(
            request_id=rid(),
            event_id=f"{self.exchange}:{tracked.cid}:{key}",
            grid_id=tracked.grid,
            exchange=self.exchange,
            client_order_id=tracked.cid,
            status=status,
            timestamp=int(time.time() * 1000),
            intent=tracked.intent,
            exchange_order_id=tracked.exchange_order_id,
            reason=reason if reason is not None else key,
            filled=tracked.filled,
        )

    def acknowledged(self, tracked: TrackedOrder, order: Order) -> RecordOrderEvent:
        tracked.exchange_order_id = order.id
        return self.event(tracked, OrderStatus.OPEN, "acknowledged")

    def rerecord_trades(self, paper: PaperExchange) -> list[StoreRequest]:
        """Dry-run start: the records of every trade the restored paper account holds
        (bounded by its history). A kill -9 between the commit of a snapshot and the
        commit of the records sent behind it leaves those records missing; sending them
        all again is idempotent (the store acks the rest as duplicates)."""
        trades = paper.trades()
        last_trade = {t.order_id: t.id for t in trades}
        filled: dict[str, Decimal] = defaultdict(Decimal)
        out: list[StoreRequest] = []
        for trade in trades:
            grid = self.grid_of(trade.client_order_id)
            if grid is None:
                continue
            filled[trade.order_id] += trade.amount
            try:
                order: Order | None = paper.fetch_order(trade.order_id)
            except OrderNotFound:
                order = None  # retired from the account's bounded history
            closed = (
                order is not None
                and order.status.is_final
                and last_trade[trade.order_id] == trade.id
            )
            report = fill_report(trade, order_filled=filled[trade.order_id], order_closed=closed)
            out.append(
                RecordFill(
                    request_id=rid(),
                    grid_id=grid,
                    exchange=self.exchange,
                    exchange_order_id=trade.order_id,
                    fill=report,
                )
            )
            if order is not None:
                status = order.status if closed else OrderStatus.OPEN
                tracked = TrackedOrder(
                    grid,
                    intent_of(order),
                    status=status,
                    filled=filled[trade.order_id],
                    exchange_order_id=order.id,
                )
                out.append(self.event(tracked, status, f"fill:{trade.id}", "filled"))
        return out
