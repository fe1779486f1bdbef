"""``CcxtExchange``: the ``Exchange`` Protocol over any ccxt exchange (``ccxt.async_support``).

The only module (with its helpers ``client``, ``convert``, ``errors``, ``requests``,
``create``) that imports ccxt: strategy processes never load it. Every ccxt call goes
through a ``RequestRunner`` (``requests``), where ccxt's exceptions become ours and
temporary errors are retried with backoff; creates go through ``CreateAttempts``, which
settles a lost answer by the client id before any retry, so a retry never places a
second order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from gridsup.exchange.budget import Budget
from gridsup.exchange.ccxt import convert
from gridsup.exchange.ccxt.client import RedactFilter, build_client, credentials_from_env
from gridsup.exchange.ccxt.create import CreateAttempts, order_request
from gridsup.exchange.ccxt.dialects import dialect_for
from gridsup.exchange.ccxt.lookup import fetch_by_client_id, fetch_by_id
from gridsup.exchange.ccxt.requests import RequestRunner
from gridsup.exchange.errors import BadSymbol, ExchangeError, InvalidOrder
from gridsup.exchange.retry import RetryPolicy
from gridsup.exchange.types import Balance, Candle, Market, Order, Ticker, Trade
from gridsup.messages.common import OrderType, Side

__all__ = ["CcxtExchange"]


class CcxtExchange:
    """The ``Exchange`` Protocol over ``ccxt.async_support.<exchange_id>``.

    ``url_overrides`` replace entries of ccxt's ``urls['api']`` (e.g. ``public``,
    ``private`` for Binance) so the client can be pointed at the loopback exchange.
    ``rate_limit_ms`` overrides ccxt's per-exchange request spacing; rate limiting itself
    stays on unless ``enable_rate_limit=False``. ``sleep`` is the backoff's sleep.

    Raises:
        ExchangeError: ``exchange_id`` is not a ccxt exchange.
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        password: str | None = None,
        sandbox: bool = False,
        url_overrides: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, immutable default
        timeout_ms: int = 10_000,
        enable_rate_limit: bool = True,
        rate_limit_ms: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: Budget | None = None,
    ) -> None:
        self.id = exchange_id
        self.dialect = dialect_for(exchange_id)
        if rate_limit_ms is None and budget is not None:
            rate_limit_ms = budget.ccxt_rate_limit_ms  # the budget keeps the venue's limits
        self._client: Any = build_client(
            exchange_id,
            api_key=api_key,
            secret=secret,
            password=password,
            sandbox=sandbox,
            url_overrides=url_overrides,
            options=options,
            timeout_ms=timeout_ms,
            enable_rate_limit=enable_rate_limit,
            rate_limit_ms=rate_limit_ms,
        )
        self._sandbox = sandbox
        self._has_keys = bool(api_key and secret)
        self._redactor = RedactFilter([s for s in (api_key, secret, password) if s])
        self._client.logger.addFilter(self._redactor)
        self._markets: dict[str, Market] = {}
        self._runner = RequestRunner(
            self._client,
            exchange_id,
            self.dialect,
            self._redactor,
            retry=retry,
            sleep=sleep,
            budget=budget,
        )
        self.requests = self._runner.stats  # latency, 429/418, reachable: request_status()

    @property
    def budget(self) -> Budget | None:
        """The host's shared request budget (exchange/budget.py, venue_budget.py); None:
        none kept here."""
        return self._runner.budget

    @classmethod
    def from_env(
        cls,
        exchange_id: str,
        api_key_env: str | None,
        api_secret_env: str | None,
        environ: Mapping[str, str] | None = None,
        password_env: str | None = None,
        **kwargs: Any,
    ) -> CcxtExchange:
        """Build from the environment variables NAMED by the config (never the values).

        Both names None gives a public-only client; ``password_env`` names the API
        passphrase (OKX).

        Raises:
            AuthenticationError: a named variable is unset or empty (the message names
                the variable, never a value).
        """
        api_key, secret, password = credentials_from_env(
            exchange_id, api_key_env, api_secret_env, environ, password_env
        )
        return cls(exchange_id, api_key=api_key, secret=secret, password=password, **kwargs)

    def __repr__(self) -> str:
        return (
            f"CcxtExchange(id={self.id!r}, sandbox={self._sandbox}, "
            f"keys={'set' if self._has_keys else 'none'}, markets={len(self._markets)})"
        )

    def request_status(self) -> dict[str, float | int | bool]:
        """This client's request figures (latency histogram, 429/418, reachable) and,
        with a budget, the host's shared ones, which win: weight used and limit, and the
        429/418 answers of every process of the run (``gridsup.messages.telemetry``)."""
        return self._runner.status()

    # -- lifecycle ------------------------------------------------------------------

    async def connect(self) -> None:
        """Load the markets (the first request).

        Raises:
            ExchangeError: as ``load_markets``.
        """
        await self.load_markets()

    async def close(self) -> None:
        """Close the HTTP session. Safe to call twice."""
        self._client.logger.removeFilter(self._redactor)
        await self._client.close()

    def capabilities(self) -> dict[str, Any]:
        """ccxt's ``has`` table of this exchange (what its ccxt class can do)."""
        return dict(self._client.has)

    def _order(self, raw: Mapping[str, Any]) -> Order:
        """ccxt's order as ours, its client id back in our form (see the dialect)."""
        order = convert.to_order(raw)
        decoded = self.dialect.decode_client_id(order.client_order_id)
        if decoded != order.client_order_id:
            order = msgspec.structs.replace(order, client_order_id=decoded)
        return order

    def _created(self, raw: Mapping[str, Any], sent: Mapping[str, Any], cid: str) -> Order:
        """A create answer as our order (see ``convert.completed_ack``), its client id
        the one sent when the venue does not echo it."""
        order = self._order(convert.completed_ack(raw, sent, self._client.milliseconds()))
        if order.client_order_id is None:
            order = msgspec.structs.replace(order, client_order_id=cid)
        return order

    # -- public data ----------------------------------------------------------------

    async def load_markets(self, reload: bool = False) -> dict[str, Market]:
        """Spot markets with their precision and limits, by unified symbol.

        Raises:
            ExchangeError: the request failed (after retries) or a market is unreadable.
        """
        raw: dict[str, Any] = await self._runner.call(
            "load_markets", lambda: self._client.load_markets(reload)
        )
        mode = int(self._client.precisionMode)
        self._markets = {
            symbol: convert.to_market(market, mode)
            for symbol, market in raw.items()
            if market.get("spot", True) and market.get("active", True) is not False
        }
        return dict(self._markets)

    async def market(self, symbol: str) -> Market:
        """One market's precision and limits (markets are loaded on first use).

        Raises:
            BadSymbol: the exchange lists no such spot market.
        """
        if not self._markets:
            await self.load_markets()
        try:
            return self._markets[symbol]
        except KeyError:
            raise BadSymbol(f"{self.id} lists no spot market {symbol!r}") from None

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """Raises: BadSymbol, ExchangeError (no last price, or the request failed)."""
        await self.market(symbol)
        raw = await self._runner.call("fetch_ticker", lambda: self._client.fetch_ticker(symbol))
        ticker = convert.to_ticker(raw, self._client.milliseconds())
        if ticker is None:
            raise ExchangeError(f"{self.id}: no last price for {symbol}")
        return ticker

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        """Tickers of ``symbols`` (all spot markets if None) in one request.

        Symbols without a last price are left out.

        Raises:
            ExchangeError: the request failed.
        """
        wanted = None if symbols is None else list(symbols)
        raw = await self._runner.call(
            "fetch_tickers",
            lambda: self._client.fetch_tickers(wanted),
            None if wanted is None else len(wanted),
        )
        result: dict[str, Ticker] = {}
        for symbol, data in raw.items():
            if wanted is not None and symbol not in wanted:
                continue
            ticker = convert.to_ticker(data, self._client.milliseconds())
            if ticker is not None:
                result[symbol] = ticker
        return result

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        """Raises: BadSymbol, ExchangeError."""
        await self.market(symbol)
        rows = await self._runner.call(
            "fetch_ohlcv", lambda: self._client.fetch_ohlcv(symbol, timeframe, since, limit)
        )
        return [convert.to_candle(row) for row in rows]

    # -- orders ---------------------------------------------------------------------

    async def create_order(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order, rounded to the market's precision, never twice.

        Without ``client_order_id`` one is generated, so that a lost response can always
        be settled by a look-up.

        Raises:
            BadSymbol: unknown market.
            BelowMinimum: under the minimum amount or notional (nothing is sent).
            InvalidOrder, InsufficientFunds, DuplicateOrder: refused by the exchange.
            AmbiguousOrder: the response was lost and the look-up could not settle it.
            RateLimited, ExchangeUnavailable: still failing after the retries (the order
                was not placed).
        """
        market = await self.market(symbol)
        if type is OrderType.LIMIT and price is None:
            raise InvalidOrder(f"{symbol}: a limit order needs a price")
        reference = price
        if type is OrderType.MARKET:
            price = None
            reference = (await self.fetch_ticker(symbol)).last
        request = order_request(
            self._client,
            self.dialect,
            market,
            symbol,
            side,
            type,
            amount,
            price,
            reference,
            client_order_id,
        )
        cid, sent, runner = request.client_order_id, request.sent(), self._runner
        attempts = CreateAttempts(
            exchange_id=self.id,
            symbol=symbol,
            client_order_id=cid,
            send=lambda: runner.send("create_order", lambda: request.create(self._client)),
            to_order=lambda raw: self._created(raw, sent, cid),
            lookup=lambda: self.fetch_order(symbol, client_order_id=cid),
            runner=runner,
        )
        return await attempts.run()

    async def cancel_order(self, order_id: str, symbol: str) -> Order:
        """Raises: OrderNotFound (unknown or already final), ExchangeError."""
        raw = await self._runner.call(
            "cancel_order", lambda: self._client.cancel_order(order_id, symbol)
        )
        if raw.get("id") is None or raw.get("amount") is None:
            # Bybit and Kraken answer a cancel with the id alone: read the order back.
            return await self.fetch_order(symbol, order_id=order_id)
        return self._order(raw)

    async def fetch_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order, by exchange id or by client order id.

        Raises:
            OrderNotFound: no such order. ValueError: neither id given. ExchangeError.
        """
        if order_id is None and client_order_id is None:
            raise ValueError("fetch_order needs order_id or client_order_id")
        if client_order_id is not None:
            venue_id = self.dialect.encode_client_id(client_order_id)
            raw = await self._runner.call(
                "fetch_order",
                lambda: fetch_by_client_id(self._client, self.dialect, symbol, venue_id),
            )
        else:
            assert order_id is not None
            by_id = order_id
            raw = await self._runner.call(
                "fetch_order", lambda: fetch_by_id(self._client, self.dialect, symbol, by_id)
            )
        return self._order(raw)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of one symbol, or of every symbol in one request (None).

        Raises:
            ExchangeError: the request failed.
        """
        raw = await self._runner.call(
            "fetch_open_orders",
            lambda: self._client.fetch_open_orders(symbol),
            None if symbol is None else 1,
        )
        return [self._order(o) for o in raw]

    async def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[Trade]:
        """Raises: BadSymbol, ExchangeError."""
        raw = await self._runner.call(
            "fetch_my_trades", lambda: self._client.fetch_my_trades(symbol, since, limit)
        )
        return [convert.to_trade(t) for t in raw]

    async def fetch_order_trades(
        self, symbol: str, order_id: str, since: int | None = None
    ) -> list[Trade]:
        """The trades of one order, asked for by its id where the exchange can (Binance
        ``myTrades?orderId=``, weight 5); elsewhere the symbol's trades from ``since``
        (the order's creation time: never a cancel's timestamp), filtered.

        Raises:
            BadSymbol, ExchangeError.
        """
        # "emulated" (Kraken) needs the order's trade ids, which we do not have: only a
        # native per-order call is used.
        if self._client.has.get("fetchOrderTrades") is True:
            raw = await self._runner.call(
                "fetch_order_trades",
                lambda: self._client.fetch_order_trades(order_id, symbol, None, None),
            )
            return [t for t in (convert.to_trade(r) for r in raw) if t.order_id == order_id]
        trades = await self.fetch_my_trades(symbol, since=since)
        return [t for t in trades if t.order_id == order_id]

    async def fetch_balance(self) -> Balance:
        """Raises: AuthenticationError (no keys), ExchangeError."""
        return (await self.fetch_account())[0]

    async def fetch_account(self) -> tuple[Balance, bool | None]:
        """The balances and whether the key may trade (Binance's ``canTrade``; None when
        the exchange does not say).

        Raises:
            AuthenticationError: keys missing or refused. ExchangeError.
        """
        raw = await self._runner.call("fetch_balance", lambda: self._client.fetch_balance())
        info = raw.get("info") if isinstance(raw, dict) else None
        can_trade = info.get("canTrade") if isinstance(info, dict) else None
        return convert.to_balance(raw), None if can_trade is None else bool(can_trade)
