"""Live: what the account holds beyond what the desk placed. A poll's findings are
booked (fills and final states of tracked orders, ours-but-untracked orders adopted);
at start every open order of our grids is adopted; foreign orders are counted and
reported, never touched (invariant 3)."""

from __future__ import annotations

from decimal import Decimal

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.poller import PollResult
from gridsup.actors.execution.tracked_orders import TrackedOrder, intent_of
from gridsup.actors.execution.workbench import Workbench
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.types import Order, Trade
from gridsup.messages.store import StoreRequest

log = structlog.get_logger("gridsup.actors.execution")


class Adoption:
    """Books polls and adopts orphans; ``foreign`` is the foreign orders last seen."""

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self.foreign = 0
        self._foreign: dict[str | None, set[str]] = {}  # by symbol polled (None: all)

    async def on_poll(self, result: PollResult) -> Records:
        """Book what one poll found (fills, final states, orphans to adopt)."""
        if result.symbol is None:
            self._foreign = {None: result.foreign}
        else:
            self._foreign.pop(None, None)
            self._foreign[result.symbol] = result.foreign
        foreign = sum(len(ids) for ids in self._foreign.values())
        if foreign != self.foreign:
            # Reported, never touched: a person or another bot trades on this account.
            log.warning("foreign_orders_seen", count=foreign)
        self.foreign = foreign
        orphans: list[tuple[Order, list[Trade]]] = []
        for order in result.orphans:
            try:
                trades = await self.bench.venue.trades_of(order) if order.filled > 0 else []
            except ExchangeError as exc:
                log.warning("orphan_trades_unavailable", order_id=order.id, error=str(exc))
                continue
            orphans.append((order, trades))
        await self.bench.price_fees(t for c in result.changes for t in c.trades)
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        for change in result.changes:
            if self.bench.book.get(change.tracked.cid) is not change.tracked:
                continue  # replaced meanwhile
            if change.tracked.cid in self.bench.inflight:
                continue  # a cancel of it is under way and books it; the next poll sees the rest
            more, acts = self.bench.booking.absorb(change.tracked, change.order, change.trades)
            requests += more
            actions += acts
        more, acts = self.adopt(orphans)
        return requests + more, actions + acts

    async def adopt_open_orders(self) -> Records:
        """At start: track every open order of our grids (foreign ones are counted)."""
        found: list[tuple[Order, list[Trade]]] = []
        foreign = 0
        for order in await self.bench.venue.open_orders():
            if self.bench.admission.grid_of(order.client_order_id) is None:
                foreign += 1
                continue
            trades = await self.bench.venue.trades_of(order) if order.filled > 0 else []
            found.append((order, trades))
        self.foreign = foreign
        if foreign:
            log.warning("foreign_orders_seen", count=foreign)
        return self.adopt(found)

    def adopt(self, orders: list[tuple[Order, list[Trade]]]) -> Records:
        """Track each of ``orders`` that is one of our grids' and not tracked yet; the
        trades given count as booked already (whoever saw them booked them)."""
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        for order, trades in orders:
            grid = self.bench.admission.grid_of(order.client_order_id)
            if grid is None or self.bench.book.get(order.client_order_id or "") is not None:
                continue
            tracked = self.bench.book.add(TrackedOrder(grid, intent_of(order)))
            # Fills before adoption were booked by whoever saw them; count them as known.
            tracked.filled = sum((t.amount for t in trades), Decimal(0))
            tracked.trade_ids = {t.id for t in trades}
            requests.append(self.bench.booking.acknowledged(tracked, order))
            more, acts = self.bench.booking.absorb(tracked, order, [])
            requests += more
            actions += acts
            log.info("order_adopted", grid=grid, client_order_id=tracked.cid)
        return requests, actions
