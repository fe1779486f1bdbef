"""The loopback exchange's state: a ``PaperExchange`` account behind Binance symbol
ids, the API keys it accepts, pending faults, the price history that klines and 24h
tickers are built from, and the record of every order it ever accepted."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

import msgspec

from gridsup.exchange.loopback.events import MarketEvent, OrderChanged, PriceChanged
from gridsup.exchange.loopback.faults import FaultQueue
from gridsup.exchange.loopback.filters import SymbolStatus
from gridsup.exchange.loopback.limits import BAN_LADDER_S, RateLimiter
from gridsup.exchange.loopback.listen_keys import ListenKeys
from gridsup.exchange.loopback.markets import DEFAULT_MARKETS, SymbolSpec
from gridsup.exchange.loopback.venue_limits import KrakenOrderCounter, VenueLimiter
from gridsup.exchange.loopback.wire import BinanceError
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.fees import FeeMode, FeePolicy
from gridsup.exchange.types import Candle, Order, Trade
from gridsup.messages.common import OrderType, Side

__all__ = ["INTERVALS_MS", "AcceptedOrder", "DayStats", "LoopbackState"]

# Price points kept per symbol for klines and 24h tickers (bounded: invariant 8).
HISTORY_POINTS = 50_000
DAY_MS = 86_400_000
INTERVALS_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}


class AcceptedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One order the exchange accepted (the server's record, for tests and audits)."""

    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    amount: Decimal
    timestamp: int
    response_lost: bool = False


class DayStats(NamedTuple):
    """A market's last 24 hours, as its tickers show them."""

    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    open_time: int  # ms


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class LoopbackState:
    """Everything one loopback exchange holds.

    Realistic (Binance's rules, docs/exchange.md) unless ``lenient``: commissions in the
    asset received (or BNB with ``bnb_fees``), a crossing limit order filled at once as
    taker, every symbol filter and the symbol status checked, the request weight limit
    (``weight_limit`` per minute, 429 then 418 bans along ``ban_ladder``, every duration
    times ``time_scale``) enforced. ``lenient`` keeps the earlier, kinder exchange: fees
    in quote, crossing orders rest, only tick/lot/notional/maxima checked, weight counted
    and sent but never refused. ``clock_offset_ms`` shifts the server's clock (signed
    requests and /time): a client that does not follow gets -1021. ``venue_limits``
    enforces OKX's, Bybit's and Kraken's published request limits (``time_scale``
    applies to them too). ``fill_pieces``
    splits each resting order's fill into that many trades; ``paper.fill_cap`` bounds
    what one price fills of an order.
    """

    def __init__(
        self,
        balances: Mapping[str, Decimal],
        keys: Mapping[str, str],
        *,
        specs: Iterable[SymbolSpec] = DEFAULT_MARKETS,
        clock: Callable[[], int] = wall_clock_ms,
        partial_fills: bool = False,
        lenient: bool = False,
        bnb_fees: bool = False,
        fill_pieces: int = 1,
        weight_limit: int | None = 6000,
        time_scale: float = 1.0,
        ban_ladder: Iterable[float] = BAN_LADDER_S,
        clock_offset_ms: int = 0,
        venue_limits: bool = True,
    ) -> None:
        self.specs = {spec.id: spec for spec in specs}
        self.lenient = lenient
        self.clock_offset_ms = clock_offset_ms
        self.status: dict[str, SymbolStatus] = dict.fromkeys(self.specs, SymbolStatus.TRADING)
        self._by_symbol = {spec.symbol: spec for spec in self.specs.values()}
        self.clock = clock
        self.keys = dict(keys)
        self.paper = PaperExchange(
            {s.symbol: s.market() for s in self.specs.values()},
            balances,
            partial_fills=partial_fills,
            clock=clock,
            fees=FeePolicy(mode=FeeMode.QUOTE if lenient else FeeMode.RECEIVED, bnb_fees=bnb_fees),
            taker_on_cross=not lenient,
            fill_pieces=fill_pieces,
        )
        self.limiter = RateLimiter(
            clock,
            limit=None if lenient else weight_limit,
            time_scale=time_scale,
            ban_ladder=tuple(ban_ladder),
        )
        # OKX's, Bybit's and Kraken's own request limits (venue_limits.py); off when
        # lenient or ``venue_limits`` is False.
        on = venue_limits and not lenient
        self.venue_limits = VenueLimiter(clock, time_scale=time_scale, enabled=on)
        self.kraken_orders = KrakenOrderCounter(clock, time_scale=time_scale)
        self.kraken_orders.enabled = on
        self.faults = FaultQueue()
        # Requests served per "METHOD /path" (so tests can count round trips).
        self.requests: Counter[str] = Counter()
        self.accepted: list[AcceptedOrder] = []
        self._history: dict[str, deque[tuple[int, Decimal, Decimal]]] = {
            s: deque(maxlen=HISTORY_POINTS) for s in self.specs
        }
        # Called on every order change and every market trade (the websocket streams).
        self.observers: list[Callable[[MarketEvent], None]] = []
        # The REST listenKeys of the user-data streams (listen_keys.py).
        self.listen_keys = ListenKeys(clock)
        self._refused_keys: dict[str, str] | None = None

    @property
    def keys_refused(self) -> bool:
        return self._refused_keys is not None

    def refuse_keys(self, refused: bool) -> None:
        """Refuse every API key (-2015 on REST and on the WebSocket API), as after the
        key was deleted or its IP whitelist changed; False accepts them again. Open
        connections and subscriptions stay (a stream fault drops them)."""
        if refused and self._refused_keys is None:
            self._refused_keys, self.keys = self.keys, {}
        elif not refused and self._refused_keys is not None:
            self.keys, self._refused_keys = self._refused_keys, None

    def notify(self, event: MarketEvent) -> None:
        """Tell the observers (the websocket hub) what just happened."""
        for observer in self.observers:
            observer(event)

    def _notify_trades(self, trades: list[Trade]) -> None:
        for trade in trades:
            self.notify(OrderChanged(self.paper.fetch_order(trade.order_id), trade))

    def spec(self, symbol: str | None) -> SymbolSpec:
        """The market by Binance id (``BTCUSDT``) or unified symbol (``BTC/USDT``).

        Raises:
            BinanceError: -1121 no such symbol (-1102 if none was given).
        """
        if not symbol:
            raise BinanceError(
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            )
        spec = self.specs.get(symbol) or self._by_symbol.get(symbol)
        if spec is None:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return spec

    def server_time(self) -> int:
        """The server's clock as it answers /time and checks timestamps (with offset)."""
        return self.clock() + self.clock_offset_ms

    @property
    def bnb_fees(self) -> bool:
        """Whether the account pays commissions in BNB (when it holds enough); settable."""
        return self.paper.fees.bnb_fees

    @bnb_fees.setter
    def bnb_fees(self, on: bool) -> None:
        self.paper.fees = msgspec.structs.replace(self.paper.fees, bnb_fees=on)

    # -- prices ---------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal, timestamp: int | None = None) -> list[Trade]:
        """The market traded at ``price``: fills what it reaches.

        Raises:
            BinanceError: unknown symbol.
        """
        spec = self.spec(symbol)
        ts = self.clock() if timestamp is None else timestamp
        self._history[spec.id].append((ts, price, Decimal(0)))
        trades = self.paper.on_price(spec.symbol, price, ts)
        self.notify(PriceChanged(spec.symbol, price, ts))
        self._notify_trades(trades)
        return trades

    def feed_candle(self, symbol: str, candle: Candle) -> list[Trade]:
        """One candle walked through the paper engine (open, extremes, close).

        Raises:
            BinanceError: unknown symbol.
        """
        spec = self.spec(symbol)
        history = self._history[spec.id]
        for price in (candle.open, candle.high, candle.low):
            history.append((candle.timestamp, price, Decimal(0)))
        history.append((candle.timestamp, candle.close, candle.volume))
        trades = self.paper.on_candle(
            spec.symbol,
            candle.timestamp,
            candle.open,
            candle.high,
            candle.low,
            candle.close,
            candle.volume,
        )
        self.notify(PriceChanged(spec.symbol, candle.close, candle.timestamp))
        self._notify_trades(trades)
        return trades

    def klines(
        self, symbol_id: str, interval: str, start: int | None, end: int | None, limit: int
    ) -> list[Candle]:
        """Candles aggregated from the price history.

        Raises:
            BinanceError: -1120 unknown interval.
        """
        step = INTERVALS_MS.get(interval)
        if step is None:
            raise BinanceError(400, -1120, "Invalid interval.")
        buckets: dict[int, list[Decimal]] = {}
        for ts, price, volume in self._history[symbol_id]:
            if (start is not None and ts < start) or (end is not None and ts > end):
                continue
            key = ts - ts % step
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [price, price, price, price, volume]
            else:
                bucket[1] = max(bucket[1], price)
                bucket[2] = min(bucket[2], price)
                bucket[3] = price
                bucket[4] += volume
        candles = [Candle(k, *v) for k, v in sorted(buckets.items())]
        return candles[:limit] if start is not None else candles[-limit:]

    def day_stats(self, symbol_id: str, last: Decimal, now_ms: int) -> DayStats:
        """The market's last 24 h; without prices in them, flat at ``last`` and opened
        at ``now_ms``."""
        since = self.clock() - DAY_MS
        points = [p for p in self._history[symbol_id] if p[0] >= since]
        if not points:
            return DayStats(last, last, last, Decimal(0), now_ms)
        prices = [p[1] for p in points]
        volume = sum((p[2] for p in points), Decimal(0))
        return DayStats(prices[0], max(prices), min(prices), volume, points[0][0])

    # -- orders ---------------------------------------------------------------------

    def place(
        self,
        spec: SymbolSpec,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None,
        client_order_id: str,
        *,
        post_only: bool = False,
        fee_mode: FeeMode | None = None,
    ) -> tuple[Order, list[Trade]]:
        """Place an order in the paper book and record it; return it and its fills.

        ``fee_mode`` is the venue's fee rule where it differs from the account's (the
        Kraken dialect charges quote); the lenient account keeps every fee in quote.

        Raises:
            ExchangeError: as ``PaperExchange.create_order``.
        """
        order = self.paper.create_order(
            spec.symbol,
            side,
            type,
            amount,
            price,
            client_order_id,
            post_only=post_only,
            fee_mode=None if self.lenient else fee_mode,
        )
        self.accepted.append(
            AcceptedOrder(
                order_id=order.id,
                client_order_id=order.client_order_id,
                symbol=spec.symbol,
                side=side,
                type=type,
                price=price,
                amount=amount,
                timestamp=order.timestamp,
            )
        )
        trades = self.paper.order_trades(order.id)
        self.notify(OrderChanged(order, None))
        self._notify_trades(trades)
        return order, trades

    def mark_response_lost(self, order_id: str) -> None:
        """Note in the record that the answer to this order's create request was lost."""
        for i, accepted in enumerate(self.accepted):
            if accepted.order_id == order_id:
                self.accepted[i] = msgspec.structs.replace(accepted, response_lost=True)

    def orders_by_client_id(self) -> dict[str, list[str]]:
        """Every client order id the exchange accepted, with the order ids it got."""
        result: dict[str, list[str]] = {}
        for accepted in self.accepted:
            key = accepted.client_order_id or ""
            result.setdefault(key, []).append(accepted.order_id)
        return result
