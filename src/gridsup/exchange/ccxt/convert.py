"""ccxt's unified dicts -> gridsup's value types (``exchange/types.py``).

``CcxtExchange`` sets ``client.number = str``, a mode ccxt supports, so ccxt hands over
every parsed price and amount as the exchange's own decimal text: ``Decimal`` is built
from that text and nothing goes through float. Floats still arrive where ccxt fills a
value from its own tables (default fees); those are converted through their shortest
round-trip repr, which is exact for anything a float was written from.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.types import Balance, Candle, Market, Order, Ticker, Trade
from gridsup.messages.common import OrderStatus, OrderType, Side

__all__ = [
    "completed_ack",
    "to_balance",
    "to_candle",
    "to_decimal",
    "to_market",
    "to_order",
    "to_ticker",
    "to_trade",
]

# ccxt's precisionMode constants (ccxt.base.decimal_to_precision); repeated here so that
# this module needs no ccxt import to be tested.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4

_STATUS = {
    "open": OrderStatus.OPEN,
    "canceling": OrderStatus.OPEN,  # still in the book until the exchange says otherwise
    "closed": OrderStatus.CLOSED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def to_decimal(value: object, field: str = "value") -> Decimal | None:
    """``Decimal`` from a ccxt number (text, int, float or None).

    Raises:
        ExchangeError: the value is not a number (names ``field``).
    """
    match value:
        case None | "":
            return None
        case bool():
            raise ExchangeError(f"{field}: expected a number, got {value!r}")
        case Decimal():
            return value
        case str() | int():
            try:
                result = Decimal(value)
            except InvalidOperation as exc:
                raise ExchangeError(f"{field}: not a number: {value!r}") from exc
        case float():
            # repr is the shortest text that reads back as the same float: exact for every
            # decimal text of up to 15 significant digits that the float was parsed from.
            result = Decimal(repr(value))
        case _:
            raise ExchangeError(f"{field}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ExchangeError(f"{field}: not a finite number: {value!r}")
    return result


def _required(value: object, field: str) -> Decimal:
    result = to_decimal(value, field)
    if result is None:
        raise ExchangeError(f"{field}: missing in the exchange's response")
    return result


def _int(value: object, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, int | float | str):
        return int(value)
    return default


def _step(precision: object, mode: int, field: str) -> Decimal | None:
    """A tick/lot step from ccxt's precision value under its ``precisionMode``."""
    value = to_decimal(precision, field)
    if value is None:
        return None
    if mode == TICK_SIZE:
        return value if value > 0 else None
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    # SIGNIFICANT_DIGITS has no fixed step: leave rounding to ccxt's own *_to_precision.
    return None


def to_market(market: Mapping[str, Any], precision_mode: int) -> Market:
    """Our ``Market`` (precision and limits) from a ccxt market structure.

    Raises:
        ExchangeError: a number in the structure is unreadable.
    """
    symbol = str(market["symbol"])
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    amount_limits = limits.get("amount") or {}
    cost_limits = limits.get("cost") or {}
    maker = to_decimal(market.get("maker"), f"{symbol}.maker")
    taker = to_decimal(market.get("taker"), f"{symbol}.taker")
    return Market(
        symbol=symbol,
        base=str(market["base"]),
        quote=str(market["quote"]),
        price_step=_step(precision.get("price"), precision_mode, f"{symbol}.precision.price"),
        amount_step=_step(precision.get("amount"), precision_mode, f"{symbol}.precision.amount"),
        min_amount=to_decimal(amount_limits.get("min"), f"{symbol}.limits.amount.min"),
        min_notional=to_decimal(cost_limits.get("min"), f"{symbol}.limits.cost.min"),
        maker_fee=maker if maker is not None else Decimal("0.001"),
        taker_fee=taker if taker is not None else Decimal("0.001"),
    )


def to_ticker(ticker: Mapping[str, Any], received_ms: int = 0) -> Ticker | None:
    """Our ``Ticker``; None when the exchange reports no last price for the symbol.

    ``received_ms`` stamps a ticker the venue sends without a time (Kraken's has none).

    Raises:
        ExchangeError: a number is unreadable.
    """
    symbol = str(ticker["symbol"])
    last = to_decimal(ticker.get("last"), f"{symbol}.last")
    if last is None:
        last = to_decimal(ticker.get("close"), f"{symbol}.close")
    if last is None:
        return None
    return Ticker(
        symbol=symbol,
        timestamp=_int(ticker.get("timestamp")) or received_ms,
        last=last,
        bid=to_decimal(ticker.get("bid"), f"{symbol}.bid"),
        ask=to_decimal(ticker.get("ask"), f"{symbol}.ask"),
    )


def _side(value: object, field: str) -> Side:
    try:
        return Side(str(value).lower())
    except ValueError as exc:
        raise ExchangeError(f"{field}: unknown side {value!r}") from exc


def _fee(data: Mapping[str, Any], field: str) -> tuple[Decimal, str | None]:
    """Total fee and its currency from ccxt's ``fee`` or ``fees`` (first currency wins)."""
    fees = [f for f in (data.get("fees") or []) if f]
    if not fees and data.get("fee"):
        fees = [data["fee"]]
    total = Decimal(0)
    currency: str | None = None
    for fee in fees:
        cost = to_decimal(fee.get("cost"), f"{field}.fee")
        if cost is None:
            continue
        fee_currency = fee.get("currency")
        if currency is None:
            currency = None if fee_currency is None else str(fee_currency)
        if fee_currency is None or fee_currency == currency:
            total += cost
    return total, currency


def to_order(order: Mapping[str, Any]) -> Order:
    """Our ``Order`` from a ccxt order structure.

    Raises:
        ExchangeError: a field is missing or unreadable.
    """
    order_id = str(order["id"])
    field = f"order {order_id}"
    amount = _required(order.get("amount"), f"{field}.amount")
    filled = to_decimal(order.get("filled"), f"{field}.filled") or Decimal(0)
    raw_status = order.get("status")
    if raw_status is None:
        status = OrderStatus.CLOSED if filled >= amount else OrderStatus.OPEN
    else:
        try:
            status = _STATUS[str(raw_status).lower()]
        except KeyError as exc:
            raise ExchangeError(f"{field}.status: unknown status {raw_status!r}") from exc
    order_type = OrderType.MARKET if order.get("type") == "market" else OrderType.LIMIT
    price = to_decimal(order.get("price"), f"{field}.price")
    if order_type is OrderType.MARKET or price == 0:
        # a market order's "price" is ccxt's average fill price: the order itself had none.
        price = None
    fee, fee_currency = _fee(order, field)
    client_id = order.get("clientOrderId")
    info = order.get("info")
    if isinstance(info, Mapping) and info.get("origClientOrderId"):
        # a cancel answer names the cancel request's own id "clientOrderId" (Binance)
        client_id = info["origClientOrderId"]
    return Order(
        id=order_id,
        client_order_id=None if client_id is None else str(client_id),
        symbol=str(order["symbol"]),
        side=_side(order.get("side"), f"{field}.side"),
        type=order_type,
        status=status,
        price=price,
        amount=amount,
        filled=filled,
        timestamp=_int(order.get("timestamp")),
        average=to_decimal(order.get("average"), f"{field}.average"),
        fee=fee,
        fee_currency=fee_currency,
    )


def completed_ack(
    raw: Mapping[str, Any], sent: Mapping[str, Any], now_ms: int
) -> Mapping[str, Any]:
    """A create answer with what the venue left out filled in from the request.

    Bybit answers a create with the ids alone and Kraken with the ids and a
    description: the symbol, side, type, amount and price are what was ``sent``, the
    order counts as open with nothing filled until a poll says otherwise, and an
    answer without a time is stamped ``now_ms``.
    """
    if raw.get("amount") is None or raw.get("side") is None or raw.get("symbol") is None:
        return {
            **raw,
            **sent,
            "status": None,
            "filled": "0",
            "timestamp": raw.get("timestamp") or now_ms,
        }
    if not raw.get("timestamp"):
        return {**raw, "timestamp": now_ms}
    return raw


def to_trade(trade: Mapping[str, Any], client_order_id: str | None = None) -> Trade:
    """Our ``Trade`` from a ccxt trade structure (a "my trade").

    Raises:
        ExchangeError: a field is missing or unreadable.
    """
    trade_id = str(trade["id"])
    field = f"trade {trade_id}"
    fee, fee_currency = _fee(trade, field)
    symbol = str(trade["symbol"])
    if fee_currency is None:
        # no fee reported: book it, zero, in the quote currency as gridsup does.
        fee_currency = symbol.split("/")[-1].split(":")[0]
    return Trade(
        id=trade_id,
        order_id=str(trade.get("order") or ""),  # some exchanges omit it
        client_order_id=client_order_id,
        symbol=symbol,
        side=_side(trade.get("side"), f"{field}.side"),
        price=_required(trade.get("price"), f"{field}.price"),
        amount=_required(trade.get("amount"), f"{field}.amount"),
        fee=fee,
        fee_currency=fee_currency,
        timestamp=_int(trade.get("timestamp")),
        taker=trade.get("takerOrMaker") == "taker",
    )


def to_balance(balance: Mapping[str, Any]) -> Balance:
    """Our ``Balance`` (free/used per asset; assets with nothing at all are left out).

    Raises:
        ExchangeError: a number is unreadable.
    """
    free_in = balance.get("free") or {}
    used_in = balance.get("used") or {}
    free: dict[str, Decimal] = {}
    used: dict[str, Decimal] = {}
    for asset in sorted(set(free_in) | set(used_in)):
        asset_free = to_decimal(free_in.get(asset), f"balance.{asset}.free") or Decimal(0)
        asset_used = to_decimal(used_in.get(asset), f"balance.{asset}.used") or Decimal(0)
        if asset_free or asset_used:
            free[asset] = asset_free
            used[asset] = asset_used
    return Balance(free=free, used=used)


def to_candle(row: list[Any]) -> Candle:
    """Our ``Candle`` from one ccxt OHLCV row ``[ts, open, high, low, close, volume]``.

    Raises:
        ExchangeError: the row is short or a number is unreadable.
    """
    if len(row) < 6:
        raise ExchangeError(f"OHLCV row has {len(row)} fields, expected 6: {row!r}")
    return Candle(
        _int(row[0]),
        _required(row[1], "ohlcv.open"),
        _required(row[2], "ohlcv.high"),
        _required(row[3], "ohlcv.low"),
        _required(row[4], "ohlcv.close"),
        to_decimal(row[5], "ohlcv.volume") or Decimal(0),
    )
