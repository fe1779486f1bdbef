"""PaperExchange: a deterministic, synchronous matching engine for simulated trading.

Used by the backtest, the loopback exchange and the execution actor in dry-run.
Prices come in through :meth:`~PaperExchange.on_price` (one traded price) and
:meth:`~PaperExchange.on_candle` (a candle walked along its intra-candle path); no
wall clock inside. Limit orders fill when the market touches their price, at that
price, with the maker fee; market orders at the last price with the taker fee.
Lenient by default (fees in quote, a crossing limit order rests); ``fees``
(FeeMode.RECEIVED: in the asset received or BNB, ``fees``) and ``taker_on_cross`` (a
crossing limit order fills at once at the last price as taker) give Binance's rules.
The rules in full: docs/paper.md. Parts: ``book`` (open orders by price level),
``match`` (what a price move fills, what a fill does), ``balances`` (free/used funds),
``history`` (the orders and trades remembered, bounded), ``rules`` (checks),
``snapshot`` (the wire format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from gridsup.exchange.errors import BadSymbol, DuplicateOrder, OrderNotFound
from gridsup.exchange.paper.balances import PaperBalances
from gridsup.exchange.paper.book import Book, PaperOrder
from gridsup.exchange.paper.fees import Charge, FeeMode, FeePolicy, charge_rule
from gridsup.exchange.paper.history import History
from gridsup.exchange.paper.match import fill, walk, walk_candle
from gridsup.exchange.paper.retired import RetiredIds
from gridsup.exchange.paper.rules import admit
from gridsup.exchange.paper.snapshot import AccountParts, decode, encode
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
        fees: FeePolicy | None = None,
        taker_on_cross: bool = False,
        fill_pieces: int = 1,
    ) -> None:
        """Open an account on ``markets`` holding ``balances`` (all free).

        ``fees`` says which asset commissions are charged in (default: quote, lenient);
        ``taker_on_cross`` fills a limit order that crosses the last price at once, at
        that price, as taker; ``fill_pieces`` splits each resting order's fill into that
        many trades; ``fill_cap`` (attribute, None: no cap) bounds what one
        :meth:`on_price` fills of each order, leaving the rest open.

        ``max_history`` bounds memory for long runs (design invariant 8): only
        that many finished orders and (about) twice as many trades are kept; an
        older order is forgotten, but its client id stays refused (:attr:`retired`:
        kept in memory and in the snapshot unless an owner hands them to a store).
        None keeps all.

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
        self.fees = fees if fees is not None else FeePolicy()
        self.taker_on_cross = taker_on_cross
        self.fill_pieces = max(1, fill_pieces)
        self.fill_cap: Decimal | None = None
        self._clock = clock
        assets = [a for m in self.markets.values() for a in (m.base, m.quote)]
        self._balances = PaperBalances.opening(assets, balances)
        self._history = History(max_history, id_prefix)
        self._books: dict[str, Book] = {s: Book() for s in self.markets}
        self._last: dict[str, Decimal] = {}
        self._last_ts = 0
        self._next_order = 1
        # Open orders whose fees follow another rule than the account's (``fee_mode``).
        self._fee_modes: dict[str, FeeMode] = {}
        # Raw tuples: cheaper on the hot path than building a Candle per call.
        self._candles: dict[str, list[_CandleRow]] = {}

    def __repr__(self) -> str:
        return (
            f"PaperExchange(markets={len(self.markets)}, open={self._open_count()}, "
            f"trades={len(self._history.trades)})"
        )

    @property
    def max_history(self) -> int | None:
        """How many finished orders the account remembers (None: all); settable."""
        return self._history.max_history

    @max_history.setter
    def max_history(self, value: int | None) -> None:
        self._history.max_history = value

    # ----------------------------------------------------------------- orders

    def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        client_order_id: str | None = None,
        *,
        post_only: bool = False,
        fee_mode: FeeMode | None = None,
    ) -> Order:
        """Place an order; a market order fills at once at the last price fed, so does
        a crossing limit order with ``taker_on_cross`` (``post_only`` refuses it instead).
        ``fee_mode`` charges this order's fees by another rule than the account's (the
        loopback's Kraken dialect: quote, on an account that charges the asset received).

        Raises:
            BadSymbol: no such market.
            DuplicateOrder: ``client_order_id`` was used before (open or not).
            InvalidOrder: amount/price not positive or not on the market's step, a
                limit order without a price, a market order before any price.
            BelowMinimum: amount or notional under the market's minimum (named).
            InsufficientFunds: the free balance does not cover the order.
            OrderWouldTake: a ``post_only`` order would match at once.
        """
        market = self._market(symbol)
        if client_order_id is not None and self._history.used(client_order_id):
            raise DuplicateOrder(f"client order id {client_order_id!r} was used before")
        last = self._last.get(symbol)
        price, fill_price, taker = admit(
            market,
            side,
            type,
            amount,
            price,
            last,
            post_only=post_only,
            taker_on_cross=self.taker_on_cross,
        )
        mode = self.fees.mode if fee_mode is None else fee_mode
        fee_rate = market.taker_fee if taker else market.maker_fee
        if mode is FeeMode.RECEIVED:
            fee_rate = Decimal(0)  # the fee comes out of what the fill credits
        lock = self._balances.lock(market, side, amount, fill_price, fee_rate)
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
        self._history.add(order)
        if mode is not self.fees.mode:
            self._fee_modes[order.id] = mode
        if taker:
            fill(
                self._balances,
                self._history,
                order,
                market,
                last if last is not None else fill_price,
                amount,
                order.timestamp,
                taker=True,
                charge=self._charge(),
            )
            if order.status is not OrderStatus.CLOSED:  # pragma: no cover - fills whole
                self._books[symbol].add(order)
        else:
            self._books[symbol].add(order)
        return order.public()

    def cancel_order(self, order_id: str, symbol: str | None = None) -> Order:
        """Cancel an open order and release its locked funds.

        Raises:
            OrderNotFound: no such order (in ``symbol``), or it is no longer open
                (as Binance answers "Unknown order sent").
        """
        order = self._history.orders.get(order_id)
        if order is None or (symbol is not None and order.symbol != symbol):
            raise OrderNotFound(f"no order {order_id}" + (f" in {symbol}" if symbol else ""))
        if order.status is not OrderStatus.OPEN:
            raise OrderNotFound(f"order {order_id} is {order.status.value}, not open")
        self._books[order.symbol].remove(order)
        self._balances.release(self.markets[order.symbol], order)
        self._fee_modes.pop(order.id, None)
        order.status = OrderStatus.CANCELED
        self._history.finish(order)
        return order.public()

    def fetch_order(self, order_id: str | None = None, client_order_id: str | None = None) -> Order:
        """One order, open or not, by exchange id or client id.

        Raises:
            OrderNotFound: no such order.
            ValueError: neither id was given.
        """
        return self._history.find(order_id, client_order_id).public()

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
        return [o.public() for o in self._history.orders.values()]

    def retired_client_ids(self) -> list[str]:
        """Client ids of finished orders the bounded history has forgotten that the
        account holds in memory, oldest first (a re-sent placement under one of them is
        refused as a duplicate); with a store, older ones are only in the store."""
        return list(self._history.retired)

    @property
    def retired(self) -> RetiredIds:
        """The forgotten client ids (``exchange/paper/retired.py``): an owner that keeps
        them in a store takes them at each save and asks the store about the others."""
        return self._history.retired

    def trades(self, symbol: str | None = None, since: int | None = None) -> list[Trade]:
        """Executions in time order, optionally of one symbol and from ``since`` (ms) on."""
        return self._history.select(symbol, since)

    def order_trades(self, order_id: str) -> list[Trade]:
        """The executions of one order, in time order (empty for an unknown id)."""
        return list(self._history.trades_by_order.get(order_id, ()))

    def balance(self) -> Balance:
        """Free and used (locked by open orders) amount of every asset."""
        return self._balances.balance()

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
        market = self.markets[symbol]
        cap = self.fill_cap
        if cap is not None and market.amount_step:
            cap = max((cap // market.amount_step) * market.amount_step, market.amount_step)
        walk(
            self._balances,
            self._history,
            market,
            book,
            price,
            price,
            timestamp,
            cap,
            out,
            charge=self._charge(),
            pieces=self.fill_pieces,
        )
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
        candles = self._candles.setdefault(symbol, [])
        candles.append((timestamp, open, high, low, close, volume))
        if len(candles) > 2 * CANDLE_HISTORY:
            # Trim in bulk so the hot path stays amortised O(1).
            del candles[:-CANDLE_HISTORY]
        if not book.crossed_by(low, high):
            return []
        market = self.markets[symbol]
        cap: Decimal | None = None
        if self.partial_fills:
            cap = volume * self.volume_share
            step = market.amount_step
            if step:
                cap = (cap // step) * step
        return walk_candle(
            self._balances,
            self._history,
            market,
            book,
            candle_path(open, high, low, close),
            timestamp,
            cap,
            charge=self._charge(),
            pieces=self.fill_pieces,
        )

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
            fees=FeePolicy(
                mode=FeeMode(parts.fee_mode),
                bnb_fees=parts.bnb_fees,
                bnb_discount=parts.bnb_discount,
            ),
            taker_on_cross=parts.taker_on_cross,
            fill_pieces=parts.fill_pieces,
        )
        self._balances = PaperBalances(parts.free, parts.used)
        self._history = History.restored(parts)
        self._last, self._last_ts = parts.last_prices, parts.last_timestamp
        self._next_order = parts.next_order
        self._fee_modes = {k: FeeMode(v) for k, v in parts.order_fee_modes.items()}
        for order in parts.orders:  # creation order, so the books rebuild identically
            if order.status is OrderStatus.OPEN and order.type is OrderType.LIMIT:
                self._books[order.symbol].add(order)
        return self

    def _parts(self) -> AccountParts:
        """What a snapshot holds; balances, trades and last prices are the account's own
        (not copied). The tests and the bench also hand it to ``encode_v1``."""
        return AccountParts(
            markets=list(self.markets.values()),
            free=self._balances.free,
            used=self._balances.used,
            orders=list(self._history.orders.values()),
            trades=self._history.trades,
            next_order=self._next_order,
            next_trade=self._history.next_trade,
            last_prices=self._last,
            last_timestamp=self._last_ts,
            partial_fills=self.partial_fills,
            volume_share=self.volume_share,
            id_prefix=self.id_prefix,
            max_history=self.max_history,
            finished=list(self._history.finished),
            # Only the ids no store has taken (all of them when nobody takes them).
            retired_client_ids=list(self._history.retired.unsaved),
            fee_mode=self.fees.mode.value,
            bnb_fees=self.fees.bnb_fees,
            bnb_discount=self.fees.bnb_discount,
            taker_on_cross=self.taker_on_cross,
            fill_pieces=self.fill_pieces,
            order_fee_modes={k: v.value for k, v in self._fee_modes.items()},
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

    def _charge(self) -> Charge | None:
        """The commission rule of a fill (``fees.charge_rule``)."""
        return charge_rule(
            self.fees, self._fee_modes, self.markets, self._balances.free, self._last.get
        )

    def _now(self) -> int:
        return self._clock() if self._clock is not None else self._last_ts

    def _open_count(self) -> int:
        return sum(book.count() for book in self._books.values())
