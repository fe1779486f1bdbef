"""``--plot``: the equity curve, and the price with the grid levels and the fills.

matplotlib is optional (the ``plot`` extra): it is imported only here, only when a
plot is asked for, with the Agg backend so that no display is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gridsup.backtest.report import BacktestResult
from gridsup.messages.common import Side


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed: "
            "pip install 'gridsup[plot]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_result(result: BacktestResult, path: str | Path) -> Path:
    """Draw ``result`` into a PNG at ``path``.

    Raises:
        PlotUnavailable: matplotlib is not installed.
        OSError: the file cannot be written.
    """
    plt = _pyplot()
    times = result.timestamps.astype("datetime64[ms]")
    fig, (ax_price, ax_equity) = plt.subplots(
        2, 1, figsize=(12, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    try:
        ax_price.plot(times, result.close, color="0.3", linewidth=0.7, label="close")
        for level in result.levels:
            ax_price.axhline(float(level), color="tab:blue", linewidth=0.4, alpha=0.5)
        for side, color, marker in ((Side.BUY, "tab:green", "^"), (Side.SELL, "tab:red", "v")):
            fills = [t for t in result.fills if t.side is side]
            if fills:
                ax_price.scatter(
                    np.array([t.timestamp for t in fills], dtype="datetime64[ms]"),
                    [float(t.price) for t in fills],
                    color=color,
                    marker=marker,
                    s=12,
                    label=f"{side.value} fills",
                    zorder=3,
                )
        ax_price.set_ylabel(f"price ({result.quote})")
        ax_price.set_title(f"{result.name}  {result.symbol}: price, grid levels and fills")
        ax_price.legend(loc="upper left")
        ax_equity.plot(times, result.equity, color="tab:blue", linewidth=0.9, label="grid")
        hold = float(result.buy_and_hold_equity / result.last_price)
        ax_equity.plot(times, hold * result.close, color="0.6", linewidth=0.7, label="buy and hold")
        ax_equity.set_ylabel(f"equity ({result.quote})")
        ax_equity.legend(loc="upper left")
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out
