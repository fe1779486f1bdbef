"""Dry-run: the market moves the paper account, and the fills it makes are booked.

A tick is one price through the account; a dry-run catch-up walks each missed candle
through it (``catchup``). Either way the trades become fill records and updates exactly
as a live fill's would, and an order of one of our grids that the desk does not track
yet is tracked from the account's record of it.
"""

from __future__ import annotations

from collections import defaultdict

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.tracked_orders import TrackedOrder, intent_of
from gridsup.actors.execution.workbench import Workbench
from gridsup.exchange.errors import BadSymbol
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Candle, Trade
from gridsup.messages.market import Tick
from gridsup.messages.store import StoreRequest

log = structlog.get_logger("gridsup.actors.execution")


class PaperFills:
    """Books the paper account's fills. ``paper`` is None in live mode: nothing to do."""

    def __init__(self, bench: Workbench, paper: PaperExchange | None) -> None:
        self.bench = bench
        self.paper = paper

    def rerecord_trades(self) -> list[StoreRequest]:
        """Dry-run start: see :meth:`Booking.rerecord_trades`."""
        return [] if self.paper is None else self.bench.booking.rerecord_trades(self.paper)

    def on_tick(self, tick: Tick) -> Records:
        """Feed the paper account one price; book the fills it made."""
        if self.paper is None:
            return [], []
        try:
            trades = self.paper.on_price(tick.symbol, tick.last, tick.timestamp)
        except BadSymbol:
            log.warning("tick_for_unknown_market", symbol=tick.symbol)
            return [], []
        return self._book(self.paper, trades)

    def replay_candles(self, symbol: str, candles: list[Candle]) -> tuple[Records, int]:
        """Catch-up: walk each missed candle through the paper account and book the
        fills, exactly as a tick's (see ``catchup``); and the fill count.

        Raises:
            BadSymbol: the paper account has no such market.
        """
        paper = self.paper
        if paper is None:
            return ([], []), 0
        trades: list[Trade] = []
        for c in candles:
            trades += paper.on_candle(symbol, c.timestamp, c.open, c.high, c.low, c.close, c.volume)
        return self._book(paper, trades), len(trades)

    def _book(self, paper: PaperExchange, trades: list[Trade]) -> Records:
        if not trades:
            return [], []
        by_order: dict[str, list[Trade]] = defaultdict(list)
        fee_prices = self.bench.booking.fee_prices
        for trade in trades:
            by_order[trade.order_id].append(trade)
            assets = self.bench.booking.assets_of(trade.symbol)
            if trade.fee and trade.fee_currency not in assets:
                # The paper account's own last price of the pair (no request).
                pair = f"{trade.fee_currency}/{assets[1]}"
                if (price := paper.last_price(pair)) is not None:
                    fee_prices.note(pair, price)
        requests: list[StoreRequest] = []
        actions: list[OutboxEntry] = []
        for order_id, order_trades in by_order.items():
            order = paper.fetch_order(order_id)
            tracked = self.bench.book.get(order.client_order_id or "")
            if tracked is None:
                grid = self.bench.admission.grid_of(order.client_order_id)
                if grid is None:
                    continue  # not ours: the paper account has no foreign orders, but be safe
                tracked = self.bench.book.add(TrackedOrder(grid, intent_of(order)))
                requests.append(self.bench.booking.acknowledged(tracked, order))
            more, acts = self.bench.booking.absorb(tracked, order, order_trades)
            requests += more
            actions += acts
        return requests, actions
