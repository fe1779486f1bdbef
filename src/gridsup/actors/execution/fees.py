"""Prices of fee assets: a fee charged in a third asset (BNB, when the account pays its
fees in BNB) is valued in the symbol's quote so that the grid's profit is net of it.

Where the price comes from: the execution actor's own last ticker of ``<fee
asset>/<quote>`` (``BNB/USDT``), fetched when a fill in that asset is about to be booked
and the price held is older than :data:`MAX_AGE_S` (one request, weight 2 on Binance,
at most once a minute per pair however many fills). In dry-run the paper account's last
price of that pair is used (no request). A fill is thus valued at the pair's price of at
most a minute before it was booked, not at the fill's exact instant (docs/strategies.md);
when no price can be had (no such market, the request failed) the fee is counted by
asset only and left out of the profit, with a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from decimal import Decimal

import structlog

from gridsup.actors.execution.venue import Venue
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.types import Trade

log = structlog.get_logger("gridsup.actors.execution.actor")

MAX_AGE_S = 60.0


class FeePrices:
    """Last known ``<asset>/<quote>`` prices, by pair symbol."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._prices: dict[str, tuple[Decimal, float]] = {}
        self.lookups = 0  # requests made for fee prices

    def note(self, pair: str, price: Decimal) -> None:
        self._prices[pair] = (price, self._clock())

    def value(self, fee: Decimal, asset: str, quote: str) -> Decimal | None:
        """``fee`` of ``asset`` in ``quote`` at the last known price; None if unknown."""
        known = self._prices.get(f"{asset}/{quote}")
        return None if known is None else fee * known[0]

    async def prepare(
        self, venue: Venue, trades: Iterable[Trade], assets_of: Callable[[str], tuple[str, str]]
    ) -> None:
        """Have a fresh price for every third-asset fee among ``trades`` (``assets_of``
        gives a symbol's base and quote). Never raises: a failed look-up is logged."""
        now = self._clock()
        for pair in {
            f"{t.fee_currency}/{quote}"
            for t in trades
            if t.fee and t.fee_currency not in (base_quote := assets_of(t.symbol))
            for quote in (base_quote[1],)
        }:
            known = self._prices.get(pair)
            if known is not None and now - known[1] < MAX_AGE_S:
                continue
            try:
                self.lookups += 1
                price = await venue.price(pair)
            except ExchangeError as exc:
                log.warning("fee_price_unavailable", pair=pair, error=str(exc))
                continue
            if price is not None:
                self.note(pair, price)
