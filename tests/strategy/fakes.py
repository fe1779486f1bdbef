"""A hand-written ExecutionContext that behaves like a tiny exchange: it keeps the open
orders, fills limit orders when the price trades through them, fills market orders at the
current price, and can reject, partially fill, cancel and duplicate on demand.

``sync=True`` calls the strategy back inside ``place_order``/``cancel_order`` (like a
backtest); ``sync=False`` queues the callbacks until ``deliver()`` (like the actor runtime).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import MarketInfo, Tick
from gridsup.strategy.protocols import Strategy
from helpers import BTC_USDT, BTC_USDT_UNFILTERED

LOOSE = BTC_USDT_UNFILTERED


class FakeExchange:
    def __init__(
        self,
        market: MarketInfo = BTC_USDT,
        price: Decimal = Decimal(0),
        *,
        sync: bool = True,
        fee_rate: Decimal = Decimal("0.001"),
        fee_in_base: bool = False,
        bnb_price: Decimal | None = None,
    ) -> None:
        self._market = market
        self.price = price
        self.sync = sync
        self.fee_rate = fee_rate
        self.fee_in_base = fee_in_base
        self.bnb_price = bnb_price  # set: every fee is charged in BNB at this BNB/USDT price
        self.strategy: Strategy | None = None
        self.open: dict[str, OrderIntent] = {}
        self.filled: dict[str, Decimal] = {}
        self.placed: list[OrderIntent] = []
        self.cancels: list[str] = []
        self.seen_ids: set[str] = set()
        self.reject_next: str | None = None
        self.queue: deque[Callable[[], None]] = deque()
        self.fills: list[FillReport] = []
        self.now = 1_700_000_000_000

    # ---------------------------------------------------------------- ExecutionContext
    @property
    def market(self) -> MarketInfo:
        return self._market

    def now_ms(self) -> int:
        return self.now

    def place_order(self, intent: OrderIntent) -> None:
        assert intent.client_order_id not in self.seen_ids, "client order id reused"
        self.seen_ids.add(intent.client_order_id)
        self.placed.append(intent)
        if self.reject_next is not None:
            reason, self.reject_next = self.reject_next, None
            cid = intent.client_order_id
            self._emit(lambda: self._strategy.on_order_rejected(cid, reason))
            return
        self.open[intent.client_order_id] = intent
        self.filled[intent.client_order_id] = Decimal(0)
        if intent.type is OrderType.MARKET:
            self.fill(intent.client_order_id, intent.amount, self.price)

    def cancel_order(self, client_order_id: str) -> None:
        self.cancels.append(client_order_id)
        if client_order_id not in self.open:
            return
        self.cancel_external(client_order_id)

    # ------------------------------------------------------------------- test controls
    @property
    def _strategy(self) -> Strategy:
        assert self.strategy is not None
        return self.strategy

    def _emit(self, event: Callable[[], None]) -> None:
        if self.sync:
            event()
        else:
            self.queue.append(event)

    def deliver(self) -> None:
        while self.queue:
            self.queue.popleft()()

    def fill(self, cid: str, amount: Decimal, price: Decimal | None = None) -> None:
        """Trade ``amount`` of the open order ``cid`` (closing it when complete)."""
        intent = self.open[cid]
        price = intent.price if price is None else price
        assert price is not None
        done = self.filled[cid] + amount
        assert done <= intent.amount
        self.filled[cid] = done
        closed = done == intent.amount
        if closed:
            del self.open[cid]
        fee_currency = "USDT"
        fee = price * amount * self.fee_rate
        fee_quote = None
        if self.fee_in_base and intent.side is Side.BUY:
            fee, fee_currency = amount * self.fee_rate, "BTC"
        elif self.bnb_price is not None:
            fee_quote, fee_currency = fee, "BNB"
            fee = fee / self.bnb_price
        report = FillReport(
            client_order_id=cid,
            symbol=intent.symbol,
            side=intent.side,
            price=price,
            amount=amount,
            fee=fee,
            fee_currency=fee_currency,
            trade_id=f"t{len(self.fills)}",
            timestamp=self.now,
            order_filled=done,
            order_closed=closed,
            fee_quote=fee_quote,
        )
        self.fills.append(report)
        self._emit(lambda: self._strategy.on_order_filled(report))

    def cancel_external(self, cid: str) -> None:
        """The order goes away (by us or by the exchange) with what it filled so far."""
        self.open.pop(cid)
        filled = self.filled[cid]
        self._emit(lambda: self._strategy.on_order_cancelled(cid, filled))

    def move_to(self, price: Decimal) -> None:
        """Trade at ``price``: fill every limit order it crosses, then tick the strategy."""
        self.price = price
        for cid, intent in list(self.open.items()):
            if cid not in self.open or intent.price is None:
                continue
            crossed = intent.price >= price if intent.side is Side.BUY else intent.price <= price
            if crossed:
                self.fill(cid, intent.amount - self.filled[cid])
        self.tick(price)

    def tick(self, price: Decimal) -> None:
        self.price = price
        self.now += 60_000
        tick = Tick(symbol=self._market.symbol, timestamp=self.now, last=price)
        self._emit(lambda: self._strategy.on_tick(tick))

    def open_by_level(self) -> dict[tuple[Side, Decimal | None], Decimal]:
        return {(i.side, i.price): i.amount for i in self.open.values()}
