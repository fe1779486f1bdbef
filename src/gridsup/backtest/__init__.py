"""Backtests: the real strategy over OHLCV candles, fills simulated by ``PaperExchange``.

``run_backtest`` (engine), ``BacktestContext`` (the strategy's ``ExecutionContext``),
``BacktestResult`` (report) and ``plot_result`` (plot, needs matplotlib).
This package imports numpy and pandas: strategy actors never import it.
"""

from gridsup.backtest.context import BacktestContext
from gridsup.backtest.engine import BacktestError, Mode, run_backtest
from gridsup.backtest.protocols import BacktestStrategy
from gridsup.backtest.report import BacktestResult

__all__ = [
    "BacktestContext",
    "BacktestError",
    "BacktestResult",
    "BacktestStrategy",
    "Mode",
    "run_backtest",
]
