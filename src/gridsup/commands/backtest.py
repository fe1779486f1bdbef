"""``gridsup backtest``: the grids of a grids.toml over a file of candles.

A candle file holds one symbol (taken from ``--symbol`` or the file's name, e.g.
``binance_BTC-USDT_1m.csv.gz``); every grid of the file trading that symbol runs (or
only ``--grid NAME``), each with its own paper account, and the command says which
ran and which did not. Exit codes: 0 done, 2 bad input (grids file, candle file,
options), with a one-paragraph message and no traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gridsup.commands.output import (
    EXIT_BAD_INPUT,
    DecimalRange,
    echo_json,
    fail,
    key_number,
    print_table,
    short,
    strategies_option,
)

if TYPE_CHECKING:
    import pandas as pd

    from gridsup.backtest.report import BacktestResult
    from gridsup.messages.market import MarketInfo
    from gridsup.strategy.grid.config import GridConfig

# BASE-QUOTE or BASE_QUOTE in a file name: binance_BTC-USDT_1m.csv.gz, BTC_USDT-5m.feather
_PAIR_IN_NAME = re.compile(r"(?<![A-Za-z0-9])([A-Z0-9]{2,20})[-_]([A-Z0-9]{2,20})(?![A-Za-z])")
# Rows sampled to infer tick and lot sizes from the decimals the file prints.
_SAMPLE_ROWS = 5000


def _fail(message: str) -> NoReturn:
    fail(message, EXIT_BAD_INPUT)


def symbol_from_file_name(path: Path) -> str | None:
    """``BTC/USDT`` from ``binance_BTC-USDT_1m.csv.gz``; None when the name has no pair."""
    match = _PAIR_IN_NAME.search(path.name)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def _parse_balances(values: Sequence[str]) -> dict[str, Decimal]:
    from gridsup.strategy.grid.config import MAX_BASE_AMOUNT, MAX_DIGITS

    balances: dict[str, Decimal] = {}
    for text in values:
        asset, sep, value = key_number(text)
        if (
            not sep
            or not re.fullmatch(r"[A-Za-z0-9]{1,20}", asset.strip())
            or not value.is_finite()
            or not 0 <= value <= MAX_BASE_AMOUNT
            or len(value.as_tuple().digits) > MAX_DIGITS
        ):
            _fail(
                f"--balance {short(text)}: expected ASSET=AMOUNT with 0 <= AMOUNT <= "
                f"{MAX_BASE_AMOUNT}, e.g. USDT=10000"
            )
        balances[asset.strip().upper()] = value
    return balances


def _decimals(values: Any) -> int:
    """Most decimals any of ``values`` (floats) prints with."""
    most = 0
    for v in values:
        text = repr(float(v))
        if "e" in text or "E" in text:
            exponent = Decimal(text).as_tuple().exponent
            most = max(most, -exponent if isinstance(exponent, int) else 0)
        elif "." in text:
            most = max(most, len(text.split(".", 1)[1].rstrip("0")))
    return most


def infer_steps(
    candles: pd.DataFrame, price_step: Decimal | None, amount_step: Decimal | None
) -> tuple[Decimal, Decimal]:
    """Tick and lot size: given ones win; else the tick size is the finest price step
    the file prints and the lot size the finest volume step (what Binance prints)."""
    sample = candles.iloc[:_SAMPLE_ROWS]
    if price_step is None:
        prices = sample[["open", "high", "low", "close"]].to_numpy().ravel()
        price_step = Decimal(1).scaleb(-_decimals(prices))
    if amount_step is None:
        amount_step = Decimal(1).scaleb(-_decimals(sample["volume"].to_numpy()))
    return price_step, amount_step


def market_for(
    symbol: str,
    fee_rate: Decimal,
    price_step: Decimal,
    amount_step: Decimal,
    min_notional: Decimal | None,
) -> MarketInfo:
    """The market one grid is backtested on: the file's steps, the grid's fee rate."""
    from gridsup.messages.market import MarketInfo

    base, quote = symbol.split("/", 1)
    return MarketInfo(
        symbol=symbol,
        base=base,
        quote=quote,
        price_step=price_step,
        amount_step=amount_step,
        min_notional=min_notional,
        maker_fee=fee_rate,
        taker_fee=fee_rate,
    )


@dataclass(frozen=True)
class Selection:
    symbol: str
    run: list[GridConfig]
    skipped: list[GridConfig]


def select_grids(
    grids: Sequence[GridConfig], symbol: str | None, name: str | None, data: Path
) -> Selection:
    """Which grids run over ``data``: those trading its symbol (or the one named)."""
    if name is not None:
        named = [g for g in grids if g.name == name]
        if not named:
            known = ", ".join(g.name for g in grids) or "none"
            _fail(f"--grid {short(name, 40)}: no such grid in the grids file (grids: {known}).")
        grid = named[0]
        if symbol is not None and grid.symbol != symbol:
            _fail(
                f"grid {short(name, 40)} trades {grid.symbol}, but {data} holds {symbol} candles "
                "(pass --symbol if the file name is misleading)."
            )
        return Selection(grid.symbol, [grid], [g for g in grids if g is not grid])
    if symbol is None:
        symbols = sorted({g.symbol for g in grids})
        if len(symbols) != 1:
            _fail(
                f"cannot tell which symbol {data} holds from its name; the grids trade "
                f"{', '.join(symbols)}: pass --symbol BASE/QUOTE or --grid NAME."
            )
        symbol = symbols[0]
    run = [g for g in grids if g.symbol == symbol]
    if not run:
        listed = ", ".join(f"{g.name} ({g.symbol})" for g in grids)
        _fail(f"{data} holds {symbol} candles, but no grid trades {symbol} (grids: {listed}).")
    return Selection(symbol, run, [g for g in grids if g.symbol != symbol])


def _load_grids(path: Path) -> list[GridConfig]:
    from gridsup.config import GridsFileError, load_grids_file

    try:
        loaded = load_grids_file(path)
    except GridsFileError as exc:  # an unreadable file too
        _fail(f"{exc}")
    grids = list(loaded.grids)
    if not grids:
        _fail(f"{path} defines no [[grid]] table: nothing to backtest.")
    return grids


def _load_candles(path: Path) -> pd.DataFrame:
    from gridsup.exchange.candles import CandleFileError, load_candles

    try:
        return load_candles(path)
    except CandleFileError as exc:
        _fail(
            f"cannot backtest over {exc.path}: {exc.problem}"
            + (f" (row {exc.row})." if exc.row is not None else ".")
        )


def _fmt_money(value: Decimal, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def _fmt_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _stopped(result: BacktestResult, grid: GridConfig | None) -> str:
    """``no``, or why the grid stopped and at which price it was set to."""
    if not result.stopped:
        return "no"
    if result.stop_reason == "stop_loss":
        at = f" below {grid.stop_loss_price}" if grid and grid.stop_loss_price else ""
        return f"yes: stop-loss, the price fell{at}"
    if result.stop_reason == "take_profit":
        at = f" above {grid.take_profit_price}" if grid and grid.take_profit_price else ""
        return f"yes: take-profit, the price rose{at}"
    return f"yes ({result.stop_reason or 'reason unknown'})"


def _render(result: BacktestResult, data: Path, grid: GridConfig | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    q = result.quote
    table = Table(
        title=(
            f"grid {result.name} ({result.symbol}) over {data.name}: {result.candles:,} candles, "
            f"{_fmt_time(result.start_ms)} .. {_fmt_time(result.end_ms)} UTC"
        ),
        show_header=False,
        title_justify="left",
    )
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    pct = f" ({result.total_pnl / result.initial_equity:+.2%})" if result.initial_equity else ""
    rows = [
        ("price first open / last close", f"{result.first_price} / {result.last_price}"),
        ("levels", f"{len(result.levels)}: {result.levels[0]} .. {result.levels[-1]}"),
        ("initial equity", f"{_fmt_money(result.initial_equity)} {q}"),
        ("final equity", f"{_fmt_money(result.final_equity)} {q}"),
        ("total PnL", f"{_fmt_money(result.total_pnl)} {q}{pct}"),
        ("realized profit (cycles)", f"{_fmt_money(result.realized_profit)} {q}"),
        ("unrealized PnL", f"{_fmt_money(result.unrealized_pnl)} {q}"),
        ("completed cycles", f"{result.completed_cycles:,}"),
        ("trades", f"{result.trades:,}"),
        ("fees paid", f"{_fmt_money(result.fees_paid)} {q}"),
        (
            "max drawdown",
            f"{result.max_drawdown:.2%} ({result.max_drawdown_value:,.2f} {q})",
        ),
        ("buy and hold PnL", f"{_fmt_money(result.buy_and_hold_pnl)} {q}"),
        (
            "final balances",
            ", ".join(f"{v.normalize():f} {k}" for k, v in result.final_balances.items()),
        ),
        ("orders placed / refused", f"{result.orders_placed:,} / {result.orders_rejected:,}"),
        ("stopped", _stopped(result, grid)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    print_table(table)
    console = Console()
    if result.skipped_levels:
        first = result.skipped_levels[0]
        console.print(
            f"{len(result.skipped_levels)} level(s) left empty at the end, e.g. level "
            f"{first.get('level')} {first.get('side')}: {first.get('reason')}",
            markup=False,
        )


# Tick and lot sizes: positive, and within the bounds of a grids file's prices.
_STEP = DecimalRange(Decimal(0), Decimal("1e12"), open_low=True)


def _plot_path(base: Path, name: str, several: bool) -> Path:
    return base.with_name(f"{base.stem}-{name}{base.suffix}") if several else base


@click.command("backtest")
@strategies_option(help_text="grids.toml holding the [[grid]] tables.")
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Candles: CSV, CSV.gz or Parquet with timestamp, open, high, low, close, volume.",
)
@click.option("--grid", "grid_name", help="Run only this grid (default: every grid of the symbol).")
@click.option("--symbol", help="Symbol of the candles, BASE/QUOTE (default: from the file name).")
@click.option(
    "--balance",
    "balances",
    multiple=True,
    metavar="ASSET=AMOUNT",
    help="Starting balance of each grid's paper account (repeatable; "
    "default: the grid's total_investment in quote).",
)
@click.option("--price-step", type=_STEP, help="Tick size (default: finest step in the file).")
@click.option("--amount-step", type=_STEP, help="Lot size (default: finest volume step).")
@click.option(
    "--min-notional",
    type=DecimalRange(Decimal(0), Decimal("1e12")),
    help="Smallest order value in quote (default: none).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a PNG of the equity curve and the levels over price (needs matplotlib).",
)
def backtest(
    grids_file: Path,
    data: Path,
    grid_name: str | None,
    symbol: str | None,
    balances: tuple[str, ...],
    price_step: Decimal | None,
    amount_step: Decimal | None,
    min_notional: Decimal | None,
    as_json: bool,
    plot: Path | None,
) -> None:
    """Run grids over historical candles with simulated fills and report the outcome."""
    from gridsup.logging import configure_logging
    from gridsup.strategy.base import SYMBOL_PATTERN

    configure_logging("ERROR")
    if symbol is not None and not SYMBOL_PATTERN.fullmatch(symbol):
        _fail(f"--symbol {short(symbol)}: expected BASE/QUOTE in capitals, e.g. BTC/USDT.")
    start = _parse_balances(balances)
    grids = _load_grids(grids_file)
    candles = _load_candles(data)
    chosen = select_grids(grids, symbol or symbol_from_file_name(data), grid_name, data)
    # The steps are the file's, not the grid's: inferred once (sampling costs about as
    # much as a fast backtest), whatever the number of grids.
    steps = infer_steps(candles, price_step, amount_step)
    results = [
        _run_one(grid, chosen.symbol, candles, start, *steps, min_notional, data)
        for grid in chosen.run
    ]
    if plot is not None:
        _plot_all(results, plot)
    if as_json:
        out = {
            "data": str(data),
            "symbol": chosen.symbol,
            "ran": [g.name for g in chosen.run],
            "not_run": [{"name": g.name, "symbol": g.symbol} for g in chosen.skipped],
            "results": [r.to_dict() for r in results],
        }
        echo_json(out)
        return
    ran = ", ".join(g.name for g in chosen.run)
    click.echo(f"{data} holds {chosen.symbol}: ran grid(s) {ran}")
    if chosen.skipped:
        others = ", ".join(f"{g.name} ({g.symbol})" for g in chosen.skipped)
        click.echo(f"not run (other symbol or not selected): {others}")
    by_name = {g.name: g for g in chosen.run}
    for result in results:
        _render(result, data, by_name.get(result.name))


def _run_one(
    grid: GridConfig,
    symbol: str,
    candles: pd.DataFrame,
    start: dict[str, Decimal],
    price_step: Decimal,
    amount_step: Decimal,
    min_notional: Decimal | None,
    data: Path,
) -> BacktestResult:
    from gridsup.backtest import BacktestError, run_backtest
    from gridsup.strategy.grid import GridTradingStrategy
    from gridsup.strategy.levels import GridLevelsError

    market = market_for(symbol, grid.fee_rate, price_step, amount_step, min_notional)
    balances = start or {grid.quote: grid.total_investment}
    try:
        strategy = GridTradingStrategy(grid)
        return run_backtest(strategy, candles, market, balances, name=grid.name)
    except GridLevelsError as exc:
        _fail(f'grid "{grid.name}" cannot run on {symbol}: {exc}')
    except BacktestError as exc:
        _fail(f"cannot backtest over {data}: {exc}.")


def _plot_all(results: list[BacktestResult], plot: Path) -> None:
    from gridsup.backtest.plot import PlotUnavailable, plot_result

    for result in results:
        target = _plot_path(plot, result.name, len(results) > 1)
        try:
            plot_result(result, target)
        except PlotUnavailable as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"cannot write the plot {target}: {exc.strerror or exc}.")
        click.echo(f"plot written to {target}", err=True)
