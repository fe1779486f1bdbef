"""PaperExchange: a deterministic, synchronous matching engine for simulated trading.

Used by the backtest, the loopback exchange and the execution actor in dry-run.
Prices come in through :meth:`~PaperExchange.on_price` (one traded price) and
:meth:`~PaperExchange.on_candle` (a candle walked along its intra-candle path); no
wall clock inside. Limit orders fill when the market touches their price, at that
price, with the maker fee; market orders at the last price with the taker fee;
fees are in quote. The rules in full: docs/paper.md. Parts: ``paper_book`` (open
orders by price level), ``paper_ledger`` (free/used funds), ``paper_rules`` (checks),
``paper_snapshot`` (the snapshot wire format).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from gridsup.exchange.errors import BadSymbol, DuplicateOrder, InvalidOrder, OrderNotFound
from gridsup.exchange.paper_book import Book, PaperOrder
from gridsup.exchange.paper_ledger import Ledger
from gridsup.exchange.paper_rules import check_minimums, check_shape
from gridsup.exchange.paper_snapshot import AccountParts, decode, encode
from gridsup.exchange.types import Balance, Candle, Order, Trade, candle_path
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo

__all__ = ["PaperExchange"]

_ZERO = Decimal(0)
# Candles fed per symbol that are kept for fetch_ohlcv (bounded: invariant 8).
CANDLE_HISTORY = 1000
_CandleRow = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


class PaperExchange:
    """A simulated spot exchange account (see the module docstring for the rules)."""

    def __init__(
        self,
        markets: Mapping[str, MarketInfo],
        balances: Mapping[str, Decimal],
        *,
        partial_fills: bool = False,
        volume_share: Decimal = Decimal("0.1"),
        clock: Callable[[], int] | None = None,
        id_prefix: str = "",
        max_history: int | None = None,
    ) -> None:
        """Open an account on ``markets`` holding ``balances`` (all free).

        ``max_history`` bounds memory for long runs (design invariant 8): only
        that many finished orders and (about) twice as many trades are kept; an
        older order is forgotten, but its client id stays refused. None keeps all.

        Raises:
            ValueError: a balance is negative, ``volume_share`` is not in (0, 1],
                or ``max_history`` is below 1.
        """
        if not _ZERO < volume_share <= 1:
            raise ValueError(f"volume_share must be in (0, 1], got {volume_share}")
        if max_history is not None and max_history < 1:
            raise ValueError(f"max_history must be at least 1, got {max_history}")
        self.markets: dict[str, MarketInfo] = dict(markets)
        self.partial_fills = partial_fills
        self.volume_share = volume_share
        self.id_prefix = id_prefix
        self.max_history = max_history
        self._clock = clock
        assets = [a for m in self.markets.values() for a in (m.base, m.quote)]
        self._ledger = Ledger.opening(assets, balances)
        self._orders: dict[str, PaperOrder] = {}
        self._by_client: dict[str, str] = {}
        # With max_history: finished order ids, oldest first, and the client ids of
        # orders already forgotten (a dict, for a stable order in snapshots).
        self._finished: deque[str] = deque()
        self._retired: dict[str, None] = {}
        self._books: dict[str, Book] = {s: Book() for s in self.markets}
        self._trades: list[Trade] = []
        self._trades_by_order: dict[str, list[Trade]] = {}
        self._last: dict[str, Decimal] = {}
        self._last_ts = 0
        self._next_order = 1
        self._next_trade = 1
        # Raw tuples: cheaper on the hot path than building a Candle per call.
        self._candles: dict[str, list[_CandleRow]] = {}

    def __repr__(self) -> str:
        return (
            f"PaperExchange(markets={len(self.markets)}, open={self._open_count()}, "
            f"trades={len(self._trades)})"
        )

    # ----------------------------------------------------------------- orders

    def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order; a market order fills at once at the last price fed.

        Raises:
            BadSymbol: no such market.
            DuplicateOrder: ``client_order_id`` was used before (open or not).
            InvalidOrder: amount/price not positive or not on the market's step, a
                limit order without a price, a market order before any price.
            BelowMinimum: amount or notional under the market's minimum (named).
            InsufficientFunds: the free balance does not cover the order.
        """
        market = self._market(symbol)
        if client_order_id is not None and (
            client_order_id in self._by_client or client_order_id in self._retired
        ):
            raise DuplicateOrder(f"client order id {client_order_id!r} was used before")
        if type is OrderType.MARKET:
            fill_price = self._last.get(symbol)
            if fill_price is None:
                raise InvalidOrder(f"no price known yet for {symbol}: cannot fill a market order")
            price = None
        elif price is None:
            raise InvalidOrder("a limit order needs a price")
        else:
            fill_price = price
        check_shape(market, amount, price)
        check_minimums(market, amount, fill_price)
        fee_rate = market.taker_fee if type is OrderType.MARKET else market.maker_fee
        lock = self._ledger.lock(market, side, amount, fill_price, fee_rate)
        order = PaperOrder(
            id=f"{self.id_prefix}{self._next_order}",
            seq=self._next_order,
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            type=type,
            price=price,
            amount=amount,
            timestamp=self._now(),
            locked=lock,
            fee_currency=market.quote,
        )
        self._next_order += 1
        self._orders[order.id] = order
        if client_order_id is not None:
            self._by_client[client_order_id] = order.id
        if type is OrderType.MARKET:
            self._fill(order, market, fill_price, amount, order.timestamp, taker=True)
        else:
            self._books[symbol].add(order)
        return order.public()

    def cancel_order(self, order_id: str, symbol: str | None = None) -> Order:
        """Cancel an open order and release its locked funds.

        Raises:
            OrderNotFound: no such order (in ``symbol``), or it is no longer open
                (as Binance answers "Unknown order sent").
        """
        order = self._orders.get(order_id)
        if order is None or (symbol is not None and order.symbol != symbol):
            raise OrderNotFound(f"no order {order_id}" + (f" in {symbol}" if symbol else ""))
        if order.status is not OrderStatus.OPEN:
            raise OrderNotFound(f"order {order_id} is {order.status.value}, not open")
        self._books[order.symbol].remove(order)
        self._ledger.release(self.markets[order.symbol], order)
        order.status = OrderStatus.CANCELED
        self._finish(order)
        return order.public()

    def fetch_order(self, order_id: str | None = None, client_order_id: str | None = None) -> Order:
        """One order, open or not, by exchange id or client id.

        Raises:
            OrderNotFound: no such order.
            ValueError: neither id was given.
        """
        if order_id is None:
            if client_order_id is None:
                raise ValueError("fetch_order needs order_id or client_order_id")
            found = self._by_client.get(client_order_id)
            if found is None and client_order_id in self._retired:
                raise OrderNotFound(f"order {client_order_id!r} is finished and forgotten")
            if found is None:
                raise OrderNotFound(f"no order with client id {client_order_id!r}")
            order_id = found
        order = self._orders.get(order_id)
        if order is None or (
            client_order_id is not None and order.client_order_id != client_order_id
        ):
            raise OrderNotFound(f"no order {order_id}")
        return order.public()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of ``symbol``, or all), oldest first.

        Raises:
            BadSymbol: no such market.
        """
        books = [self._book(symbol)] if symbol is not None else self._books.values()
        found = [o for book in books for o in book.orders()]
        found.sort(key=lambda o: o.seq)
        return [o.public() for o in found]

    def orders(self) -> list[Order]:
        """Every order the account remembers -- open ones and finished ones still in its
        history (``max_history``) -- oldest first."""
        return [o.public() for o in self._orders.values()]

    def retired_client_ids(self) -> list[str]:
        """Client ids of finished orders the bounded history has forgotten, oldest first
        (a re-sent placement under one of them is still refused as a duplicate)."""
        return list(self._retired)

    def trades(self, symbol: str | None = None, since: int | None = None) -> list[Trade]:
        """Executions in time order, optionally of one symbol and from ``since`` (ms) on."""
        return [
            t
            for t in self._trades
            if (symbol is None or t.symbol == symbol) and (since is None or t.timestamp >= since)
        ]

    def order_trades(self, order_id: str) -> list[Trade]:
        """The executions of one order, in time order (empty for an unknown id)."""
        return list(self._trades_by_order.get(order_id, ()))

    def balance(self) -> Balance:
        """Free and used (locked by open orders) amount of every asset."""
        return self._ledger.balance()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price fed for ``symbol`` (a candle's close), None before any."""
        return self._last.get(symbol)

    def last_timestamp(self) -> int:
        """Timestamp (ms) of the last price fed for any symbol, 0 before any."""
        return self._last_ts

    def best_bid_order_price(self, symbol: str) -> float | None:
        """Highest open buy limit of ``symbol`` as a float (for vectorised skipping).

        Raises:
            BadSymbol: no such market.
        """
        return self._book(symbol).best_bid()

    def best_ask_order_price(self, symbol: str) -> float | None:
        """Lowest open sell limit of ``symbol`` as a float (for vectorised skipping).

        Raises:
            BadSymbol: no such market.
        """
        return self._book(symbol).best_ask()

    def candles(self, symbol: str) -> list[Candle]:
        """The last candles fed for ``symbol`` (at most ``CANDLE_HISTORY``), oldest first."""
        return [Candle(*row) for row in self._candles.get(symbol, [])[-CANDLE_HISTORY:]]

    # ----------------------------------------------------------------- prices

    def on_price(self, symbol: str, price: Decimal, timestamp: int) -> list[Trade]:
        """The market traded at ``price``: fill the orders it reaches.

        Raises:
            BadSymbol: no such market.
        """
        book = self._book(symbol)
        self._last[symbol] = price
        self._last_ts = timestamp
        if not book.crossed_by(price, price):
            return []
        out: list[Trade] = []
        self._walk(symbol, book, price, price, timestamp, None, out)
        return out

    def on_candle(
        self,
        symbol: str,
        timestamp: int,
        open: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Decimal,
    ) -> list[Trade]:
        """Walk one candle open->low->high->close (up) or open->high->low->close
        (down) and fill the orders the path reaches, in path order.

        Raises:
            BadSymbol: no such market.
        """
        book = self._book(symbol)
        self._last[symbol] = close
        self._last_ts = timestamp
        history = self._candles.setdefault(symbol, [])
        history.append((timestamp, open, high, low, close, volume))
        if len(history) > 2 * CANDLE_HISTORY:
            # Trim in bulk so the hot path stays amortised O(1).
            del history[:-CANDLE_HISTORY]
        if not book.crossed_by(low, high):
            return []
        cap: Decimal | None = None
        if self.partial_fills:
            cap = volume * self.volume_share
            step = self.markets[symbol].amount_step
            if step:
                cap = (cap // step) * step
        path = candle_path(open, high, low, close)
        out: list[Trade] = []
        touched: set[str] = set()
        prev = path[0]
        self._walk(symbol, book, prev, prev, timestamp, cap, out, touched)
        for point in path[1:]:
            if point < prev:
                self._walk(symbol, book, point, None, timestamp, cap, out, touched)
            elif point > prev:
                self._walk(symbol, book, None, point, timestamp, cap, out, touched)
            prev = point
        return out

    # --------------------------------------------------------------- snapshot

    def snapshot(self) -> bytes:
        """The whole account (balances, orders, trades, counters, last prices), as
        version 2: msgpack, orders and trades as arrays of their fields."""
        return encode(self._parts())

    @classmethod
    def restore(cls, data: bytes, clock: Callable[[], int] | None = None) -> PaperExchange:
        """Rebuild an account from :meth:`snapshot` output, of this version or of
        version 1 (the JSON of earlier releases).

        Raises:
            ValueError: ``data`` is not a paper snapshot (msgspec names the field)
                or has an unknown version.
        """
        parts = decode(data)
        self = cls(
            {m.symbol: m for m in parts.markets},
            {},
            partial_fills=parts.partial_fills,
            volume_share=parts.volume_share,
            clock=clock,
            id_prefix=parts.id_prefix,
            max_history=parts.max_history,
        )
        self._finished = deque(parts.finished)
        self._retired = dict.fromkeys(parts.retired_client_ids)
        self._ledger = Ledger(parts.free, parts.used)
        self._trades = parts.trades
        for trade in parts.trades:
            self._trades_by_order.setdefault(trade.order_id, []).append(trade)
        self._last, self._last_ts = parts.last_prices, parts.last_timestamp
        self._next_order, self._next_trade = parts.next_order, parts.next_trade
        for order in parts.orders:  # creation order, so the indexes rebuild identically
            self._orders[order.id] = order
            if order.client_order_id is not None:
                self._by_client[order.client_order_id] = order.id
            if order.status is OrderStatus.OPEN and order.type is OrderType.LIMIT:
                self._books[order.symbol].add(order)
        return self

    def _parts(self) -> AccountParts:
        """What a snapshot holds; balances, trades and last prices are the account's own
        (not copied). The tests and the bench also hand it to ``encode_v1``."""
        return AccountParts(
            markets=list(self.markets.values()),
            free=self._ledger.free,
            used=self._ledger.used,
            orders=list(self._orders.values()),
            trades=self._trades,
            next_order=self._next_order,
            next_trade=self._next_trade,
            last_prices=self._last,
            last_timestamp=self._last_ts,
            partial_fills=self.partial_fills,
            volume_share=self.volume_share,
            id_prefix=self.id_prefix,
            max_history=self.max_history,
            finished=list(self._finished),
            retired_client_ids=list(self._retired),
        )

    # ---------------------------------------------------------------- private

    def _market(self, symbol: str) -> MarketInfo:
        market = self.markets.get(symbol)
        if market is None:
            raise BadSymbol(f"no market {symbol!r}; known: {', '.join(sorted(self.markets))}")
        return market

    def _book(self, symbol: str) -> Book:
        book = self._books.get(symbol)
        if book is None:
            self._market(symbol)  # raises BadSymbol
        return self._books[symbol]

    def _now(self) -> int:
        return self._clock() if self._clock is not None else self._last_ts

    def _open_count(self) -> int:
        return sum(book.count() for book in self._books.values())

    def _walk(
        self,
        symbol: str,
        book: Book,
        down_to: Decimal | None,
        up_to: Decimal | None,
        timestamp: int,
        cap: Decimal | None,
        out: list[Trade],
        touched: set[str] | None = None,
    ) -> None:
        """Fill what a move reaches: buys priced >= ``down_to`` (best first), then
        sells priced <= ``up_to`` (best first). ``cap`` bounds each order's fill
        in this candle; ``touched`` holds the orders that already used it."""
        market = self.markets[symbol]
        reached: Iterable[PaperOrder] = ()
        if down_to is not None:
            reached = book.buys_at_or_above(down_to)
        if up_to is not None:
            reached = [*reached, *book.sells_at_or_below(up_to)]
        for order in reached:
            if touched is not None:
                if order.id in touched:
                    continue
                touched.add(order.id)
            quantity = order.amount - order.filled
            if cap is not None:
                quantity = min(quantity, cap)
            if quantity <= 0:
                continue
            assert order.price is not None  # only limit orders rest in a book
            out.append(self._fill(order, market, order.price, quantity, timestamp, taker=False))
            if order.status is not OrderStatus.OPEN:
                book.remove(order)

    def _fill(
        self,
        order: PaperOrder,
        market: MarketInfo,
        price: Decimal,
        quantity: Decimal,
        timestamp: int,
        *,
        taker: bool,
    ) -> Trade:
        """Book one execution: move funds, update the order, record the trade."""
        fee = self._ledger.settle(
            market, order, quantity, price, market.taker_fee if taker else market.maker_fee
        )
        order.filled += quantity
        order.cost += quantity * price
        order.fee += fee
        if order.filled >= order.amount:
            order.status = OrderStatus.CLOSED
            # A market buy locked at the last price; what was not spent goes back.
            self._ledger.release(market, order)
            self._finish(order)
        trade = Trade(
            id=f"{self.id_prefix}{self._next_trade}",
            order_id=order.id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            amount=quantity,
            fee=fee,
            fee_currency=market.quote,
            timestamp=timestamp,
            taker=taker,
        )
        self._next_trade += 1
        self._trades.append(trade)
        self._trades_by_order.setdefault(order.id, []).append(trade)
        if self.max_history is not None and len(self._trades) > 2 * self.max_history:
            self._forget_trades(len(self._trades) - self.max_history)
        return trade

    def _finish(self, order: PaperOrder) -> None:
        """Note that ``order`` ended; forget the oldest finished ones past the bound."""
        if self.max_history is None:
            return
        self._finished.append(order.id)
        while len(self._finished) > self.max_history:
            old = self._orders.pop(self._finished.popleft())
            if old.client_order_id is not None:
                del self._by_client[old.client_order_id]
                self._retired[old.client_order_id] = None

    def _forget_trades(self, count: int) -> None:
        """Drop the ``count`` oldest trades, in bulk so appending stays O(1) amortised."""
        for trade in self._trades[:count]:
            mine = self._trades_by_order[trade.order_id]
            mine.pop(0)  # an order's trades are in time order: this one is its oldest
            if not mine:
                del self._trades_by_order[trade.order_id]
        del self._trades[:count]
