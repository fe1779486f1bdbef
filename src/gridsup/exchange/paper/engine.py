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
``account`` (what the account holds, its queries and its snapshot), ``match`` (what a
price move fills, what a fill does), ``balances`` (free/used funds),
``history`` (the orders and trades remembered, bounded), ``rules`` (checks),
``snapshot`` (the wire format).
"""

from __future__ import annotations

from decimal import Decimal

from gridsup.exchange.errors import DuplicateOrder, OrderNotFound
from gridsup.exchange.paper.account import CANDLE_HISTORY, PaperAccount
from gridsup.exchange.paper.book import PaperOrder
from gridsup.exchange.paper.fees import Charge, FeeMode, charge_rule
from gridsup.exchange.paper.match import fill, walk, walk_candle
from gridsup.exchange.paper.rules import admit
from gridsup.exchange.types import Order, Trade, candle_path
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = ["PaperExchange"]


class PaperExchange(PaperAccount):
    """A simulated spot exchange account that trades (see the module docstring for the
    rules; ``PaperAccount`` for what it holds, its queries and its snapshot)."""

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

    # ---------------------------------------------------------------- private

    def _charge(self) -> Charge | None:
        """The commission rule of a fill (``fees.charge_rule``)."""
        return charge_rule(
            self.fees, self._fee_modes, self.markets, self._balances.free, self._last.get
        )

    def _now(self) -> int:
        return self._clock() if self._clock is not None else self._last_ts
