"""The built-in market table of the ``paper`` exchange.

``gridsup start`` with ``[exchange] id = "paper"`` has no exchange to ask for its
markets (it runs offline), so it takes their precision and limits from here. The
filters are those Binance lists for these spot pairs (``PRICE_FILTER`` tick size,
``LOT_SIZE`` step and minimum quantity, ``NOTIONAL`` minimum), so that a grid that
runs on paper also passes a real Binance's checks. The loopback exchange serves the
same figures (``gridsup.exchange.loopback.markets``).
"""

from __future__ import annotations

from decimal import Decimal

from gridsup.messages.market import MarketInfo

__all__ = ["PAPER_EXCHANGE_ID", "PAPER_MARKETS", "UnknownMarket", "paper_market"]

PAPER_EXCHANGE_ID = "paper"

_MAKER_FEE = Decimal("0.001")  # Binance's base spot fee, maker and taker
_TAKER_FEE = Decimal("0.001")


def _binance(base: str, tick: str, step: str, min_qty: str, min_notional: str = "5") -> MarketInfo:
    return MarketInfo(
        symbol=f"{base}/USDT",
        base=base,
        quote="USDT",
        price_step=Decimal(tick),
        amount_step=Decimal(step),
        min_amount=Decimal(min_qty),
        min_notional=Decimal(min_notional),
        maker_fee=_MAKER_FEE,
        taker_fee=_TAKER_FEE,
    )


PAPER_MARKETS: dict[str, MarketInfo] = {
    market.symbol: market
    for market in (
        _binance("BTC", tick="0.01", step="0.00001", min_qty="0.00001"),
        _binance("ETH", tick="0.01", step="0.0001", min_qty="0.0001"),
        _binance("SOL", tick="0.01", step="0.001", min_qty="0.001"),
        _binance("BNB", tick="0.01", step="0.001", min_qty="0.001"),
    )
}


class UnknownMarket(LookupError):
    """The paper exchange lists no such symbol; the message names the known ones."""


def paper_market(symbol: str) -> MarketInfo:
    """The paper exchange's market for ``symbol``.

    Raises:
        UnknownMarket: ``symbol`` is not in :data:`PAPER_MARKETS`.
    """
    try:
        return PAPER_MARKETS[symbol]
    except KeyError:
        known = ", ".join(sorted(PAPER_MARKETS))
        raise UnknownMarket(
            f"the paper exchange has no market {symbol} (it lists {known})"
        ) from None
