"""The ``Exchange`` Protocol: the one interface through which gridsup talks to any
exchange. Implemented by ``CcxtExchange`` (any ccxt id) and by the async adapter of
``PaperExchange``."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from gridsup.exchange.types import Balance, Candle, Market, Order, Ticker, Trade
from gridsup.messages.common import OrderType, Side


@runtime_checkable
class Exchange(Protocol):
    """Async exchange interface. Raises the types in ``gridsup.exchange.errors``."""

    id: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def load_markets(self, reload: bool = False) -> dict[str, Market]: ...

    async def fetch_ticker(self, symbol: str) -> Ticker: ...

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]: ...

    async def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> Order: ...

    async def cancel_order(self, order_id: str, symbol: str) -> Order: ...

    async def fetch_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[Trade]: ...

    async def fetch_balance(self) -> Balance: ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]: ...
