"""A small fake execution actor (plus the market feed) over the real sockets, run in a
thread of the test process so a test can make the "exchange" move while a strategy
actor is down: fill, cancel, or lose orders behind its back.

It follows the execution actor's contract: PlaceOrder is idempotent by client id (a
re-send is acknowledged, never a second order), every change is published as a
sequence-numbered OrderUpdate on the grid's topic, and QueryOrders answers with the
grid's open orders plus the final status and fills of every id asked about.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import zmq
from trading_support import serve_router

from gridsup.actors.run_config import MARKET, ORDER_UPDATES, ORDERS, topic
from gridsup.messages.common import FillReport, OrderIntent, OrderStatus, OrderType
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderSnapshot,
    OrderState,
    OrderUpdate,
    PlaceOrder,
    QueryOrders,
)
from gridsup.runtime.endpoints import RunDir
from gridsup.strategy.ids import parse_client_order_id

EPOCH = 1_700_000_000_000


class VenueOrder:
    def __init__(self, strategy: str, intent: OrderIntent) -> None:
        self.strategy = strategy
        self.intent = intent
        self.status = OrderStatus.OPEN
        self.filled = Decimal(0)
        self.fills: list[FillReport] = []

    def state(self) -> OrderState:
        return OrderState(
            intent=self.intent, status=self.status, filled=self.filled, fills=tuple(self.fills)
        )


class FakeVenue:
    """Binds ORDERS (ROUTER), ORDER_UPDATES (PUB) and MARKET (PUB) in ``run_dir``.

    ``journal``, when given, gets ``("place", client id, side, price)`` for every
    PlaceOrder received, in order (a test may share it with another fake peer).
    """

    def __init__(
        self, run_dir: RunDir, price: Decimal, journal: list[tuple[Any, ...]] | None = None
    ) -> None:
        self.price = price
        self.journal = journal
        self.orders: dict[str, VenueOrder] = {}
        self.created: Counter[str] = Counter()  # orders made on the "exchange", by id
        self.requests: Counter[str] = Counter()  # PlaceOrder requests, by id
        self.queries: list[QueryOrders] = []
        # Set: every placement is refused, retryable, with this reason (the execution
        # actor's answer to a temporary refusal).
        self.refuse_places: str | None = None
        # Set: CancelOrders go unanswered and change nothing (lost on the way).
        self.drop_cancels = False
        self.cancels: Counter[str] = Counter()  # CancelOrder requests, by id
        self._seq: Counter[str] = Counter()
        self._lost: Counter[str] = Counter()
        self._trades = itertools.count(1)
        self._lock = threading.Lock()
        self._todo: list[Callable[[], object]] = []
        self._ctx: zmq.Context[Any] = zmq.Context()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.bind(run_dir.endpoint(ORDERS))
        self._updates = self._ctx.socket(zmq.PUB)
        self._updates.bind(run_dir.endpoint(ORDER_UPDATES))
        self._market = self._ctx.socket(zmq.PUB)
        self._market.bind(run_dir.endpoint(MARKET))
        for sock in (self._router, self._updates, self._market):
            sock.setsockopt(zmq.LINGER, 0)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-venue")
        self._thread.start()

    # ------------------------------------------------------------------ test controls

    def tick(self, price: Decimal | None = None, symbol: str = "BTC/USDT") -> None:
        """Publish a tick (the strategy may miss early ones: call it from eventually())."""
        with self._lock:
            if price is not None:
                self.price = price
            tick = Tick(symbol=symbol, timestamp=EPOCH, last=self.price)
            self._todo.append(
                lambda: self._market.send_multipart([topic(symbol), MARKET_CODEC.encode(tick)])
            )

    def open_orders(self, strategy: str | None = None) -> dict[str, OrderIntent]:
        with self._lock:
            return {
                cid: o.intent
                for cid, o in self.orders.items()
                if o.status is OrderStatus.OPEN and (strategy is None or o.strategy == strategy)
            }

    def order_at(self, side: Any, price: str) -> OrderIntent:
        (intent,) = [
            i for i in self.open_orders().values() if i.side is side and i.price == Decimal(price)
        ]
        return intent

    def fill(self, cid: str, amount: Decimal | None = None) -> FillReport:
        """Fill the open order ``cid`` at its price, completely or ``amount`` of it (a
        partial fill: it stays open); publish the update."""
        with self._lock:
            order = self.orders[cid]
            return self._fill(order, order.intent.price or self.price, amount)

    def cancel(self, cid: str) -> None:
        """Someone else (the exchange, a human) cancels ``cid``; the update is published."""
        with self._lock:
            order = self.orders[cid]
            order.status = OrderStatus.CANCELED
            self._publish(order, None)

    def lose_updates(self, strategy: str, count: int = 1) -> None:
        """The next ``count`` updates of ``strategy`` are lost on the way (a gap)."""
        with self._lock:
            self._lost[strategy] += count

    def seq(self, strategy: str) -> int:
        """The last update seq made for ``strategy`` (published or lost)."""
        with self._lock:
            return self._seq[strategy]

    def forget(self, cid: str) -> None:
        """The exchange never got ``cid`` (a request lost on the way)."""
        with self._lock:
            del self.orders[cid]

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)
        for sock in (self._router, self._updates, self._market):
            sock.close(0)
        self._ctx.term()

    # ---------------------------------------------------------------------- internals

    def _fill(self, order: VenueOrder, price: Decimal, amount: Decimal | None = None) -> FillReport:
        amount = order.intent.amount - order.filled if amount is None else amount
        order.filled += amount
        if order.filled >= order.intent.amount:
            order.status = OrderStatus.CLOSED
        fill = FillReport(
            client_order_id=order.intent.client_order_id,
            symbol=order.intent.symbol,
            side=order.intent.side,
            price=price,
            amount=amount,
            fee=(price * amount * Decimal("0.001")).quantize(Decimal("0.00000001")),
            fee_currency="USDT",
            trade_id=str(next(self._trades)),
            timestamp=EPOCH,
            order_filled=order.filled,
            order_closed=order.status is OrderStatus.CLOSED,
        )
        order.fills.append(fill)
        self._publish(order, fill)
        return fill

    def _publish(self, order: VenueOrder, fill: FillReport | None) -> None:
        self._seq[order.strategy] += 1
        update = OrderUpdate(
            strategy=order.strategy,
            seq=self._seq[order.strategy],
            client_order_id=order.intent.client_order_id,
            status=order.status,
            filled=order.filled,
            fill=fill,
            epoch=EPOCH,
        )
        if self._lost[order.strategy] > 0:
            self._lost[order.strategy] -= 1
            return
        self._todo.append(
            lambda: self._updates.send_multipart(
                [topic(order.strategy), ORDER_FEED_CODEC.encode(update)]
            )
        )

    def _handle(self, request: Any) -> Any:
        match request:
            case PlaceOrder(request_id=rid, strategy=strategy, intent=intent):
                cid = intent.client_order_id
                self.requests[cid] += 1
                if self.refuse_places is not None:
                    return OrderRejected(
                        request_id=rid, client_order_id=cid, reason=self.refuse_places,
                        retryable=True,
                    )  # fmt: skip
                if self.journal is not None:
                    self.journal.append(("place", cid, intent.side, intent.price))
                order = self.orders.get(cid)
                if order is None:
                    order = self.orders[cid] = VenueOrder(strategy, intent)
                    self.created[cid] += 1
                    self._publish(order, None)
                    if intent.type is OrderType.MARKET:
                        self._fill(order, self.price)
                return OrderAck(request_id=rid, client_order_id=cid, status=order.status)
            case CancelOrder(request_id=rid, client_order_id=cid):
                self.cancels[cid] += 1
                if self.drop_cancels:
                    return None
                order = self.orders.get(cid)
                if order is None:
                    return OrderRejected(request_id=rid, client_order_id=cid, reason="unknown")
                if order.status is OrderStatus.OPEN:
                    order.status = OrderStatus.CANCELED
                    self._publish(order, None)
                return OrderAck(request_id=rid, client_order_id=cid, status=order.status)
            case QueryOrders(request_id=rid, strategy=strategy, client_order_ids=asked):
                self.queries.append(request)
                tag_orders = [
                    o
                    for o in self.orders.values()
                    if (o.strategy == strategy and o.status is OrderStatus.OPEN)
                    or o.intent.client_order_id in asked
                ]
                return OrderSnapshot(
                    request_id=rid,
                    strategy=strategy,
                    seq=self._seq[strategy],
                    orders=tuple(o.state() for o in tag_orders),
                    epoch=EPOCH,
                )
        raise AssertionError(f"unexpected request {request!r}")

    def _serve(self) -> None:
        serve_router(self._router, self._closing, self._due, self._answer)

    def _due(self) -> list[Callable[[], object]]:
        with self._lock:
            todo, self._todo = self._todo, []
        return todo

    def _answer(self, identity: bytes, frame: bytes) -> None:
        with self._lock:
            reply = self._handle(ORDER_REQUEST_CODEC.decode(frame))
        if reply is not None:  # None: the request was lost (drop_cancels)
            self._router.send_multipart([identity, ORDER_REPLY_CODEC.encode(reply)])


def grid_of(cid: str) -> str | None:
    parsed = parse_client_order_id(cid)
    return None if parsed is None else parsed.grid_tag
