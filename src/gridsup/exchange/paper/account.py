"""A paper account: what it holds, what can be read of it, and its snapshot.

:class:`PaperAccount` keeps an account's settings and its parts -- funds
(``balances``), the orders and trades it remembers (``history``), the open orders of
each symbol (``book``), the last prices and candles fed, the order counter -- answers
the queries of the ``Exchange`` Protocol over them, and writes and reads them as a
snapshot (``snapshot``: the wire format). What changes an account (orders placed and
cancelled, prices fed) is the matching engine's: ``PaperExchange`` (``engine``) is a
``PaperAccount`` that trades.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Self

from gridsup.exchange.errors import BadSymbol
from gridsup.exchange.paper.balances import PaperBalances
from gridsup.exchange.paper.book import Book
from gridsup.exchange.paper.fees import FeeMode, FeePolicy
from gridsup.exchange.paper.history import History
from gridsup.exchange.paper.retired import RetiredIds
from gridsup.exchange.paper.snapshot import (
    AccountParts,
    bucket_of,
    decode,
    decode_split,
    encode,
    encode_split,
    split_buckets,
)
from gridsup.exchange.types import Balance, Candle, Order, Trade
from gridsup.messages.common import OrderStatus, OrderType
from gridsup.messages.market import MarketInfo

__all__ = ["CANDLE_HISTORY", "CandleRow", "PaperAccount"]

_ZERO = Decimal(0)
# Candles fed per symbol that are kept for fetch_ohlcv (bounded: invariant 8).
CANDLE_HISTORY = 1000
CandleRow = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


class PaperAccount:
    """A simulated spot exchange account: its state, its queries and its snapshot
    (``PaperExchange`` adds the trading)."""

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
        ``PaperExchange.on_price`` fills of each order, leaving the rest open.

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
        self._candles: dict[str, list[CandleRow]] = {}
        # Split snapshots: the save each bucket was last written at; all buckets go in
        # the first one (split_snapshot).
        self._split_written: dict[int, int] = {}
        self._split_all = True

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(markets={len(self.markets)}, open={self._open_count()}, "
            f"trades={len(self._history.trades)})"
        )

    @property
    def max_history(self) -> int | None:
        """How many finished orders the account remembers (None: all); settable."""
        return self._history.max_history

    @max_history.setter
    def max_history(self, value: int | None) -> None:
        self._history.max_history = value

    # ---------------------------------------------------------------- queries

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

    # --------------------------------------------------------------- snapshot

    def snapshot(self) -> bytes:
        """The whole account (balances, orders, trades, counters, last prices), as
        version 2: msgpack, orders and trades as arrays of their fields."""
        return encode(self._parts())

    def split_snapshot(self, version: int) -> tuple[bytes, dict[int, bytes]]:
        """The account as a split snapshot at save ``version`` (``snapshot.encode_split``):
        its core, and the buckets (orders and trades by symbol) that changed since the
        last split snapshot (all of them the first time, and after :meth:`resplit`). The
        caller stores the core and those buckets together, in one transaction."""
        touched = self._history.take_touched()
        written = self._split_written
        if self._split_all:
            self._split_all = False
            touched.update(self.markets)  # every order and trade is of one of them
            dirty = set(written) | {bucket_of(s) for s in touched}
        else:
            dirty = {bucket_of(s) for s in touched}
        return encode_split(self._parts(), dirty, version, written)

    def resplit(self) -> None:
        """The store may lack a split save (it refused one): write every bucket again
        with the next."""
        self._split_all = True

    @classmethod
    def restore(cls, data: bytes, clock: Callable[[], int] | None = None) -> Self:
        """Rebuild an account from :meth:`snapshot` output, of this version or of
        version 1 (the JSON of earlier releases).

        Raises:
            ValueError: ``data`` is not a paper snapshot (msgspec names the field)
                or has an unknown version (a split one: :meth:`restore_split`).
        """
        return cls._restored(decode(data), clock)

    @classmethod
    def restore_split(
        cls, core: bytes, buckets: Mapping[int, bytes], clock: Callable[[], int] | None = None
    ) -> Self:
        """Rebuild an account from :meth:`split_snapshot` output: the last core saved and
        the buckets it names (``snapshot.split_buckets``), by bucket. Its next split
        snapshot writes every bucket again.

        Raises:
            ValueError: not a split snapshot, or a bucket missing or of another save
                than its core names (``snapshot.decode_split``).
        """
        self = cls._restored(decode_split(core, buckets), clock)
        self._split_written = dict(split_buckets(core) or {})
        return self

    @classmethod
    def _restored(cls, parts: AccountParts, clock: Callable[[], int] | None) -> Self:
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

    def _open_count(self) -> int:
        return sum(book.count() for book in self._books.values())
