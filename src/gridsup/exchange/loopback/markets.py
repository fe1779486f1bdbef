"""The loopback exchange's markets: Binance-style symbol records (exchangeInfo) and the
``MarketInfo`` the paper engine trades them with, from one table.

The pairs and their filters (tick, lot, minimum notional) are the paper exchange's
(``gridsup.exchange.markets``), as Binance lists them. BNBUSDT carries the legacy
``MIN_NOTIONAL`` filter instead of ``NOTIONAL`` so that both shapes ccxt parses are served.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from gridsup.exchange.markets import PAPER_MARKETS
from gridsup.exchange.types import Market

__all__ = ["DEFAULT_MARKETS", "SymbolSpec", "symbol_info"]


class SymbolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One spot pair as the loopback lists it."""

    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_price: Decimal = Decimal("1000000")
    max_qty: Decimal = Decimal("9000")
    legacy_min_notional: bool = False
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    market_max_qty: Decimal = Decimal("100")
    # PERCENT_PRICE_BY_SIDE: a limit price within [last*down, last*up] (both sides).
    percent_up: Decimal = Decimal("5")
    percent_down: Decimal = Decimal("0.2")
    max_num_orders: int = 200

    @property
    def id(self) -> str:
        """Binance's symbol id (``BTCUSDT``)."""
        return f"{self.base}{self.quote}"

    @property
    def symbol(self) -> str:
        """ccxt's unified symbol (``BTC/USDT``)."""
        return f"{self.base}/{self.quote}"

    def market(self) -> Market:
        """The ``MarketInfo`` the paper engine checks orders against."""
        return Market(
            symbol=self.symbol,
            base=self.base,
            quote=self.quote,
            price_step=self.tick_size,
            amount_step=self.step_size,
            min_amount=self.min_qty,
            min_notional=self.min_notional,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )


def _spec(market: Market) -> SymbolSpec:
    assert market.price_step and market.amount_step and market.min_amount
    assert market.min_notional is not None
    return SymbolSpec(
        base=market.base,
        quote=market.quote,
        tick_size=market.price_step,
        step_size=market.amount_step,
        min_qty=market.min_amount,
        min_notional=market.min_notional,
        legacy_min_notional=market.base == "BNB",
        maker_fee=market.maker_fee,
        taker_fee=market.taker_fee,
    )


# The paper exchange's table (one list of Binance's figures for both).
DEFAULT_MARKETS: tuple[SymbolSpec, ...] = tuple(_spec(m) for m in PAPER_MARKETS.values())


def _fixed(value: Decimal) -> str:
    """Binance's 8-decimal text (``0.01000000``)."""
    return f"{value:.8f}"


def symbol_info(spec: SymbolSpec, status: str = "TRADING") -> dict[str, Any]:
    """The symbol's record in ``GET /api/v3/exchangeInfo``."""
    notional: dict[str, Any]
    if spec.legacy_min_notional:
        notional = {
            "filterType": "MIN_NOTIONAL",
            "minNotional": _fixed(spec.min_notional),
            "applyToMarket": True,
            "avgPriceMins": 5,
        }
    else:
        notional = {
            "filterType": "NOTIONAL",
            "minNotional": _fixed(spec.min_notional),
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        }
    return {
        "symbol": spec.id,
        "status": status,
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _fixed(spec.tick_size),
                "maxPrice": _fixed(spec.max_price),
                "tickSize": _fixed(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _fixed(spec.min_qty),
                "maxQty": _fixed(spec.max_qty),
                "stepSize": _fixed(spec.step_size),
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": _fixed(spec.market_max_qty),
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": str(spec.percent_up),
                "bidMultiplierDown": str(spec.percent_down),
                "askMultiplierUp": str(spec.percent_up),
                "askMultiplierDown": str(spec.percent_down),
                "avgPriceMins": 5,
            },
            notional,
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }
