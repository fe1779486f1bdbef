"""AsyncPaperExchange: a ``PaperExchange`` behind the async ``Exchange`` Protocol.

The execution actor in dry-run talks to this exactly as it talks to
``CcxtExchange``; whoever feeds prices (a market feed, a replay of the candles
missed while down) calls ``paper.on_price``/``paper.on_candle`` on the wrapped
engine. Every call is synchronous underneath, so each is atomic on the event loop.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from gridsup.exchange.errors import BadSymbol, ExchangeError, OrderNotFound
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Balance, Candle, Market, Order, Ticker, Trade
from gridsup.messages.common import OrderType, Side

__all__ = ["AsyncPaperExchange"]

T = TypeVar("T")


class AsyncPaperExchange:
    """The async ``Exchange`` Protocol over one ``PaperExchange`` (id ``"paper"``)."""

    id = "paper"

    def __init__(self, paper: PaperExchange) -> None:
        self.paper = paper

    def __repr__(self) -> str:
        return f"AsyncPaperExchange({self.paper!r})"

    async def connect(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release."""

    async def load_markets(self, reload: bool = False) -> dict[str, Market]:
        """The markets the paper account was opened on."""
        return dict(self.paper.markets)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The last price fed for ``symbol``.

        Raises:
            BadSymbol: no such market.
            ExchangeError: no price has been fed for it yet.
        """
        self._check_symbol(symbol)
        price = self.paper.last_price(symbol)
        if price is None:
            raise ExchangeError(f"no price known yet for {symbol}")
        return Ticker(symbol=symbol, timestamp=self.paper.last_timestamp(), last=price)

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        """Tickers of ``symbols`` (or all markets) that have a price; others are left out.

        Raises:
            BadSymbol: a named symbol is not a market.
        """
        wanted = symbols if symbols is not None else list(self.paper.markets)
        out: dict[str, Ticker] = {}
        for symbol in wanted:
            self._check_symbol(symbol)
            price = self.paper.last_price(symbol)
            if price is not None:
                out[symbol] = Ticker(
                    symbol=symbol, timestamp=self.paper.last_timestamp(), last=price
                )
        return out

    async def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """See :meth:`PaperExchange.create_order` (same errors)."""
        return self.paper.create_order(symbol, side, type, amount, price, client_order_id)

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        """See :meth:`PaperExchange.cancel_order` (same errors)."""
        return self.paper.cancel_order(order_id, symbol)

    async def fetch_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order of ``symbol`` by exchange id or client id.

        Raises:
            OrderNotFound: no such order in ``symbol``.
            ValueError: neither id was given.
        """
        order = self.paper.fetch_order(order_id, client_order_id)
        if order.symbol != symbol:
            raise OrderNotFound(f"no order {order_id or client_order_id} in {symbol}")
        return order

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of ``symbol`` (or all), oldest first.

        Raises:
            BadSymbol: no such market.
        """
        if symbol is not None:
            self._check_symbol(symbol)
        return self.paper.open_orders(symbol)

    async def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[Trade]:
        """Trades of ``symbol`` in time order: the first ``limit`` from ``since`` on,
        or the last ``limit`` when no ``since`` is given (as Binance's myTrades).

        Raises:
            BadSymbol: no such market.
        """
        self._check_symbol(symbol)
        return _window(self.paper.trades(symbol, since), since is not None, limit)

    async def fetch_balance(self) -> Balance:
        """Free and used balances of the paper account."""
        return self.paper.balance()

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        """The candles fed to the paper engine for ``symbol`` (bounded history), in
        whatever timeframe they were fed: the paper exchange does not resample.

        Raises:
            BadSymbol: no such market.
            ExchangeError: no candles are held for ``symbol``.
        """
        self._check_symbol(symbol)
        candles = self.paper.candles(symbol)
        if not candles:
            raise ExchangeError(f"the paper exchange holds no candles for {symbol}")
        if since is not None:
            candles = [c for c in candles if c.timestamp >= since]
        return _window(candles, since is not None, limit)

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self.paper.markets:
            raise BadSymbol(f"no market {symbol!r}; known: {', '.join(sorted(self.paper.markets))}")


def _window(items: list[T], from_start: bool, limit: int | None) -> list[T]:
    """The first ``limit`` items when a start was given, else the last ``limit``."""
    if limit is None:
        return items
    if limit <= 0:
        return []
    return items[:limit] if from_start else items[-limit:]
