"""What a backtest reports: ``BacktestResult`` and the figures derived from a run.

Money figures are exact ``Decimal``s taken from the paper account and the strategy's
books; the equity curve (one value per candle, for the drawdown and the plot) is
float64, computed with numpy as quote + base x close.

Definitions (the issue left them open):

- ``total_pnl`` = final equity (at the last close) - initial equity (at the first open);
- ``realized_profit`` = the sum of the profits the strategy booked for its completed
  cycles (buy at level i, sell at level i+1), net of both fees;
- ``unrealized_pnl`` = ``total_pnl - realized_profit``: the mark-to-market of the
  inventory held, including the fee of the initial market buy;
- ``buy_and_hold`` = the initial quote spent on base at the first open (taker fee
  paid), plus the initial base, valued at the last close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from gridsup.exchange.types import Trade
from gridsup.messages.market import MarketInfo

if TYPE_CHECKING:
    from gridsup.backtest.context import BacktestContext
    from gridsup.backtest.protocols import BacktestStrategy
    from gridsup.exchange.paper.engine import PaperExchange


@dataclass(frozen=True, slots=True)
class CandleArrays:
    """The candles as numpy columns (prices float64, timestamps int64 ms)."""

    timestamp: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Outcome of one backtest. ``to_dict()`` is what ``--json`` prints."""

    name: str
    symbol: str
    base: str
    quote: str
    candles: int
    events: int  # candles walked through the paper engine (the rest were skipped)
    start_ms: int
    end_ms: int
    first_price: Decimal
    last_price: Decimal
    initial_balances: dict[str, Decimal]
    final_balances: dict[str, Decimal]
    initial_equity: Decimal
    final_equity: Decimal
    total_pnl: Decimal
    realized_profit: Decimal
    unrealized_pnl: Decimal
    completed_cycles: int
    fees_paid: Decimal
    trades: int
    orders_placed: int
    orders_rejected: int
    max_drawdown: float  # fraction of the running peak of equity, 0..1
    max_drawdown_value: float  # in quote
    buy_and_hold_equity: Decimal
    buy_and_hold_pnl: Decimal
    stopped: bool
    levels: tuple[Decimal, ...]
    # Why the grid stopped: "stop_loss", "take_profit" (None while it runs).
    stop_reason: str | None = None
    rejections: list[tuple[int, str, str]] = field(default_factory=list)  # first 100
    # Levels the strategy holds as skipped at the end (refused, below minimums), as JSON.
    skipped_levels: list[dict[str, Any]] = field(default_factory=list)
    # Curves for the plot and the tests (not in to_dict()).
    timestamps: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    close: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    cash: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    base_held: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    fills: list[Trade] = field(default_factory=list)

    @property
    def equity(self) -> npt.NDArray[np.float64]:
        """Equity at the end of every candle: quote + base x close."""
        return self.cash + self.base_held * self.close

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: money as strings (exact), counts as ints."""

        def money(value: Decimal) -> str:
            return str(value)

        return {
            "name": self.name,
            "symbol": self.symbol,
            "candles": self.candles,
            "candles_walked": self.events,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "first_price": money(self.first_price),
            "last_price": money(self.last_price),
            "initial_balances": {k: money(v) for k, v in self.initial_balances.items()},
            "final_balances": {k: money(v) for k, v in self.final_balances.items()},
            "initial_equity": money(self.initial_equity),
            "final_equity": money(self.final_equity),
            "total_pnl": money(self.total_pnl),
            "realized_profit": money(self.realized_profit),
            "unrealized_pnl": money(self.unrealized_pnl),
            "completed_cycles": self.completed_cycles,
            "fees_paid": money(self.fees_paid),
            "trades": self.trades,
            "orders_placed": self.orders_placed,
            "orders_rejected": self.orders_rejected,
            "max_drawdown": round(self.max_drawdown, 6),
            "max_drawdown_value": round(self.max_drawdown_value, 2),
            "buy_and_hold_equity": money(self.buy_and_hold_equity),
            "buy_and_hold_pnl": money(self.buy_and_hold_pnl),
            "stopped": self.stopped,
            "stop_reason": self.stop_reason,
            "levels": [money(level) for level in self.levels],
            "rejections": [
                {"timestamp": ts, "client_order_id": cid, "reason": reason}
                for ts, cid, reason in self.rejections
            ],
            "skipped_levels": self.skipped_levels,
        }


def max_drawdown(equity: npt.NDArray[np.float64], start: float) -> tuple[float, float]:
    """Largest fall from a running peak: (fraction of that peak, amount).

    ``start`` (the initial equity) is the first peak, so a fall right after the
    start counts.
    """
    if len(equity) == 0:
        return 0.0, 0.0
    peaks = np.maximum.accumulate(np.concatenate(([start], equity)))[1:]
    falls = peaks - equity
    k = int(falls.argmax())
    if falls[k] <= 0:
        return 0.0, 0.0
    fractions = np.divide(falls, peaks, out=np.zeros_like(falls), where=peaks > 0)
    return float(fractions.max()), float(falls[k])


def equity_of(balances: Mapping[str, Decimal], market: MarketInfo, price: Decimal) -> Decimal:
    """Quote + base x price of an account."""
    quote = balances.get(market.quote, Decimal(0))
    base = balances.get(market.base, Decimal(0))
    return quote + base * price


def build_result(
    *,
    name: str,
    strategy: BacktestStrategy,
    market: MarketInfo,
    arrays: CandleArrays,
    initial_balances: Mapping[str, Decimal],
    paper: PaperExchange,
    ctx: BacktestContext,
    cash: npt.NDArray[np.float64],
    base: npt.NDArray[np.float64],
    events: int,
) -> BacktestResult:
    """Gather the figures of a finished run."""
    first_price = Decimal(repr(float(arrays.open[0])))
    last_price = Decimal(repr(float(arrays.close[-1])))
    balance = paper.balance()
    assets = sorted(set(balance.free) | set(balance.used) | set(initial_balances))
    final = {asset: balance.total(asset) for asset in assets}
    initial = {asset: Decimal(initial_balances.get(asset, 0)) for asset in assets}
    initial_equity = equity_of(initial, market, first_price)
    final_equity = equity_of(final, market, last_price)
    total_pnl = final_equity - initial_equity
    realized = strategy.realized_profit
    fills = paper.trades(market.symbol)
    fees = sum((t.fee for t in fills), Decimal(0))
    hold_base = (
        initial.get(market.base, Decimal(0))
        + initial.get(market.quote, Decimal(0)) * (1 - market.taker_fee) / first_price
    )
    hold_equity = hold_base * last_price
    close = arrays.close
    dd_fraction, dd_value = max_drawdown(cash + base * close, float(initial_equity))
    return BacktestResult(
        name=name,
        symbol=market.symbol,
        base=market.base,
        quote=market.quote,
        candles=len(close),
        events=events,
        start_ms=int(arrays.timestamp[0]),
        end_ms=int(arrays.timestamp[-1]),
        first_price=first_price,
        last_price=last_price,
        initial_balances=initial,
        final_balances=final,
        initial_equity=initial_equity,
        final_equity=final_equity,
        total_pnl=total_pnl,
        realized_profit=realized,
        unrealized_pnl=total_pnl - realized,
        completed_cycles=strategy.completed_cycles,
        fees_paid=fees,
        trades=len(fills),
        orders_placed=ctx.stats.placed,
        orders_rejected=ctx.stats.rejected,
        max_drawdown=dd_fraction,
        max_drawdown_value=dd_value,
        buy_and_hold_equity=hold_equity,
        buy_and_hold_pnl=hold_equity - initial_equity,
        stopped=strategy.stopped,
        stop_reason=_stop_reason(strategy),
        levels=tuple(strategy.levels),
        rejections=list(ctx.stats.rejections),
        # Optional in the protocol: the grid strategy reports the slots it left empty.
        skipped_levels=[s.to_json() for s in getattr(strategy, "skipped_levels", ())],
        timestamps=arrays.timestamp,
        close=close,
        cash=cash,
        base_held=base,
        fills=fills,
    )


def _stop_reason(strategy: Any) -> str | None:
    # Optional in the protocol, like skipped_levels: the grid strategy says why it stopped.
    reason = getattr(strategy, "stop_reason", None)
    return None if reason is None else str(getattr(reason, "value", reason))
