"""Answering a grid's QueryOrders: the grid's open orders, and the fate of the client
ids it names (an order of the grid that the desk does not track yet is looked up and
adopted first), as one :class:`OrderSnapshot` carrying the grid's current update
``seq``. A grid's start and every resync after a gap begin with this query."""

from __future__ import annotations

from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.replies import Outcome, reject
from gridsup.actors.execution.tracked_orders import TrackedOrder, intent_of
from gridsup.actors.execution.workbench import Workbench
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.types import Order, Trade
from gridsup.messages.orders import OrderSnapshot, QueryOrders
from gridsup.messages.store import StoreRequest


class Queries:
    """QueryOrders in; an :class:`Outcome` whose reply is an :class:`OrderSnapshot`."""

    def __init__(self, bench: Workbench, epoch: int) -> None:
        self.bench = bench
        self.epoch = epoch

    async def query(self, msg: QueryOrders) -> Outcome:
        grid = msg.strategy
        spec = self.bench.admission.grids.get(grid)
        if spec is None:
            return reject(msg.request_id, "", f"unknown strategy {grid!r}")
        self.bench.admission.serve(grid)  # a grid's start and every resync begin with a query
        if self.bench.admission.paused is not None:
            return reject(msg.request_id, "", self.bench.admission.paused_reason(), retryable=True)
        symbol = msg.symbol or spec.symbol
        found: list[tuple[Order, list[Trade]]] = []
        for cid in msg.client_order_ids:
            await self.bench.inflight.settled(cid)
            if self.bench.book.get(cid) is not None or self.bench.admission.grid_of(cid) != grid:
                continue
            try:
                order = await self.bench.venue.lookup(cid, symbol)
                if order is not None:
                    found.append((order, await self.bench.trades_to_book(order)))
            except ExchangeError as exc:
                return reject(msg.request_id, cid, repr(exc), retryable=True)
        # No await from here on: updates and the snapshot's seq are taken together.
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        for order, trades in found:
            if self.bench.book.get(order.client_order_id or "") is not None:
                continue  # placed meanwhile
            tracked = self.bench.book.add(TrackedOrder(grid, intent_of(order)))
            requests.append(self.bench.booking.acknowledged(tracked, order))
            more, acts = self.bench.booking.absorb(tracked, order, trades)
            requests += more
            actions += acts
        wanted = set(msg.client_order_ids)
        orders = [t for t in self.bench.book.open_orders(grid) if t.placed]
        orders += [
            t
            for cid in wanted
            if (t := self.bench.book.get(cid)) is not None and t.grid == grid and t.status.is_final
        ]
        if msg.symbol is not None:
            orders = [t for t in orders if t.intent.symbol == msg.symbol]
        snapshot = OrderSnapshot(
            request_id=msg.request_id,
            strategy=grid,
            seq=self.bench.booking.seq[grid],
            orders=tuple(t.state() for t in orders),
            epoch=self.epoch,
        )
        return Outcome(snapshot, requests, actions, paper_changed=bool(requests))
