"""``gridsup plan -s GRIDS_FILE`` (or ``gridsup plan GRIDS_FILE``): what each grid would
do, without trading.

For every grid: its levels, the order it would place at each (the real
``GridTradingStrategy`` is run against a recording context, so the plan is exactly what
a start would send), order sizes, profit per grid net of fees, the capital it needs in
base and quote, and the warnings of ``validate_grid_config``.

The current price of a grid is, in order: ``--price`` (``60000`` for every grid or
``BTC/USDT=60000`` for one symbol), the last close of the symbol's ``[market_data]``
replay file when the grids file names one, else the middle of the grid's range. No network is used,
so levels are not rounded to the exchange's tick size (``gridsup start`` does that).

Exit codes: 0 planned, 2 bad input (grids file, --price, a grid whose levels collide).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gridsup.commands.output import (
    EXIT_BAD_INPUT,
    echo_json,
    fail,
    grid_price,
    key_number,
    short,
    strategies_option,
)

if TYPE_CHECKING:
    from gridsup.config import GridsFile
    from gridsup.messages.common import OrderIntent
    from gridsup.strategy.grid.config import GridConfig


def _fail(message: str) -> NoReturn:
    fail(message, EXIT_BAD_INPUT)


@dataclass
class PlannedOrder:
    level: int
    price: Decimal
    side: str  # "buy", "sell" or "" for the empty level
    amount: Decimal


@dataclass
class GridPlan:
    name: str
    symbol: str
    price: Decimal
    price_source: str
    spacing: str
    enabled: bool
    levels: list[Decimal]
    orders: list[PlannedOrder]
    quote_per_grid: Decimal
    profit_min: Decimal
    profit_max: Decimal
    quote_for_buys: Decimal
    base_for_sells: Decimal
    quote_for_base: Decimal
    reserve: Decimal
    warnings: list[str] = field(default_factory=list)

    @property
    def quote_needed(self) -> Decimal:
        return self.quote_for_buys + self.quote_for_base


class _RecordingContext:
    """An ExecutionContext that keeps the orders and fills market orders at ``price``."""

    def __init__(self, symbol: str, price: Decimal, fee_rate: Decimal) -> None:
        from gridsup.messages.market import MarketInfo

        base, quote = symbol.split("/")
        self._market = MarketInfo(symbol=symbol, base=base, quote=quote)
        self.price = price
        self.fee_rate = fee_rate
        self.limits: list[OrderIntent] = []
        self.market_buys: list[OrderIntent] = []
        self.strategy: Any = None

    @property
    def market(self) -> Any:
        return self._market

    def now_ms(self) -> int:
        return 0

    def place_order(self, intent: OrderIntent) -> None:
        from gridsup.messages.common import FillReport, OrderType

        if intent.type is not OrderType.MARKET:
            self.limits.append(intent)
            return
        self.market_buys.append(intent)
        self.strategy.on_order_filled(
            FillReport(
                client_order_id=intent.client_order_id,
                symbol=intent.symbol,
                side=intent.side,
                price=self.price,
                amount=intent.amount,
                fee=intent.amount * self.price * self.fee_rate,
                fee_currency=self._market.quote,
                trade_id="plan",
                timestamp=0,
                order_filled=intent.amount,
                order_closed=True,
            )
        )

    def cancel_order(self, client_order_id: str) -> None:  # a plan never cancels
        pass


def build_plan(grid: GridConfig, price: Decimal, price_source: str) -> GridPlan:
    """Run the grid's first tick against a recording context and sum up what it did.

    Raises:
        GridLevelsError: the grid's levels cannot be built.
    """
    from gridsup.messages.common import Side
    from gridsup.messages.market import Tick
    from gridsup.strategy.grid import GridTradingStrategy
    from gridsup.strategy.levels import profit_per_grid, quote_per_grid, validate_grid_config

    strategy = GridTradingStrategy(grid, grid.name)
    ctx = _RecordingContext(grid.symbol, price, grid.fee_rate)
    ctx.strategy = strategy
    strategy.initialize(ctx)
    strategy.on_tick(Tick(symbol=grid.symbol, timestamp=0, last=price))
    levels = list(strategy.levels)
    by_level = {o.price: o for o in ctx.limits}
    orders = []
    for index, level in enumerate(levels):
        intent = by_level.get(level)
        side = intent.side.value if intent is not None else ""
        orders.append(PlannedOrder(index, level, side, intent.amount if intent else Decimal(0)))
    buys = [o for o in ctx.limits if o.side is Side.BUY]
    base = sum((o.amount for o in ctx.market_buys), Decimal(0))
    low, high = profit_per_grid(levels, grid.fee_rate)
    warnings = [w.message for w in validate_grid_config(grid, price, levels=levels)]
    warnings += [f"level {s.level} ({s.side.value}): {s.reason}" for s in strategy.skipped_levels]
    return GridPlan(
        name=grid.name,
        symbol=grid.symbol,
        price=price,
        price_source=price_source,
        spacing=grid.spacing.value,
        enabled=grid.enabled,
        levels=levels,
        orders=orders,
        quote_per_grid=quote_per_grid(grid),
        profit_min=low,
        profit_max=high,
        quote_for_buys=sum((o.amount * (o.price or 0) for o in buys), Decimal(0)),
        base_for_sells=base,
        quote_for_base=base * price * (1 + grid.fee_rate),
        reserve=grid.total_investment * grid.reserve_pct,
        warnings=warnings,
    )


def _parse_prices(values: Sequence[str]) -> tuple[Decimal | None, dict[str, Decimal]]:
    from gridsup.strategy.grid.config import MAX_DIGITS, MAX_PRICE, MIN_PRICE

    every: Decimal | None = None
    per_symbol: dict[str, Decimal] = {}
    for text in values:
        symbol, sep, value = key_number(text, last=True)
        if not value.is_finite() or value <= 0 or (sep and not symbol.strip()):
            _fail(
                f"--price {short(text)}: expected a positive price, e.g. 60000 or BTC/USDT=60000."
            )
        if not grid_price(value):
            _fail(
                f"--price {short(text)}: must be between {MIN_PRICE} and {MAX_PRICE} with at "
                f"most {MAX_DIGITS} significant digits."
            )
        if sep:
            per_symbol[symbol.strip().upper()] = value
        else:
            every = value
    return every, per_symbol


def _replay_prices(loaded: GridsFile, symbols: Iterable[str]) -> dict[str, tuple[Decimal, str]]:
    """The last close of each symbol's replay file, read as a start reads it: the
    ``[market_data] file`` may be a template with ``{symbol}``, ``{base}``, ``{quote}``.
    Empty when the market is not replayed."""
    from gridsup.config import MarketDataSource

    md = loaded.market_data
    if md.source is not MarketDataSource.REPLAY or md.file is None:
        return {}
    from gridsup.commands.preflight import replay_file
    from gridsup.exchange.candles import CandleFileError, load_candles

    prices: dict[str, tuple[Decimal, str]] = {}
    for symbol in sorted(set(symbols)):
        try:
            path = replay_file(str(md.file), symbol)
        except (KeyError, IndexError, ValueError) as exc:
            _fail(f"[market_data] file: bad placeholder in {md.file}: {exc}")
        try:
            candles = load_candles(path)
        except CandleFileError as exc:
            _fail(f"[market_data] file: {exc}")
        prices[symbol] = Decimal(str(candles["close"].iloc[-1])), f"last close of {path.name}"
    return prices


def _render(plans: list[GridPlan], path: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from gridsup.strategy.levels import first_level_at_or_above, tidy

    console = Console(highlight=False, soft_wrap=True)
    for plan in plans:
        base, quote = plan.symbol.split("/")
        table = Table(
            title=f"{plan.name}{'' if plan.enabled else ' (disabled)'}  {plan.symbol}  "
            f"{plan.spacing}, {len(plan.levels)} levels, "
            f"price {tidy(plan.price)} ({escape(plan.price_source)})",
            title_justify="left",
        )
        table.add_column("level", justify="right")
        table.add_column(f"price ({quote})", justify="right")
        table.add_column("order")
        table.add_column(f"amount ({base})", justify="right")
        empty = first_level_at_or_above(plan.levels, plan.price)
        for order in reversed(plan.orders):
            table.add_row(
                str(order.level),
                f"{tidy(order.price)}",
                order.side or ("- (price below)" if order.level == empty else "-"),
                f"{tidy(order.amount)}" if order.amount else "",
            )
        console.print(table)
        console.print(
            f"  order size:        {tidy(round(plan.quote_per_grid, 8))} {quote} per grid"
        )
        console.print(
            f"  profit per grid:   {_pct(plan.profit_min)} .. {_pct(plan.profit_max)} (net of fees)"
        )
        console.print(
            f"  capital needed:    {tidy(round(plan.quote_needed, 2))} {quote} = "
            f"{tidy(round(plan.quote_for_buys, 2))} for the buys + "
            f"{tidy(round(plan.quote_for_base, 2))} for {tidy(plan.base_for_sells)} {base} "
            f"bought at market; reserve {tidy(round(plan.reserve, 2))} {quote}"
        )
        for warning in plan.warnings:
            console.print(f"  [yellow]warning:[/yellow] {escape(warning)}")
        console.print()
    if not plans:
        console.print(f"{path} defines no [[grid]] table.", markup=False)


def _pct(value: Decimal) -> str:
    return f"{value * 100:.3f} %"


def _as_json(plan: GridPlan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "symbol": plan.symbol,
        "price": str(plan.price),
        "price_source": plan.price_source,
        "spacing": plan.spacing,
        "enabled": plan.enabled,
        "levels": [str(p) for p in plan.levels],
        "orders": [
            {
                "level": o.level,
                "price": str(o.price),
                "side": o.side or None,
                "amount": str(o.amount),
            }
            for o in plan.orders
        ],
        "quote_per_grid": str(plan.quote_per_grid),
        "profit_per_grid": {"min": str(plan.profit_min), "max": str(plan.profit_max)},
        "capital": {
            "quote_for_buys": str(plan.quote_for_buys),
            "base_for_sells": str(plan.base_for_sells),
            "quote_for_base": str(plan.quote_for_base),
            "quote_needed": str(plan.quote_needed),
            "reserve": str(plan.reserve),
        },
        "warnings": plan.warnings,
    }


@click.command()
@click.argument("positional_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@strategies_option(required=False)
@click.option(
    "--price",
    "prices",
    multiple=True,
    metavar="[SYMBOL=]PRICE",
    help="Current price to plan against: for every grid, or SYMBOL=PRICE for one symbol. "
    "Default: the replay file's last close, else the middle of each grid's range.",
)
@click.option("--grid", "names", multiple=True, metavar="NAME", help="Plan only these grids.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (Decimals as strings).")
def plan(
    positional_file: Path | None,
    grids_file: Path | None,
    prices: tuple[str, ...],
    names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show each grid's levels, order sizes, profit per grid and capital; place nothing.

    The grids file is -s/--strategies FILE, or FILE as an argument.
    """
    from gridsup.config import GridsFileError, load_grids_file
    from gridsup.logging import configure_logging
    from gridsup.strategy.levels import GridLevelsError

    # The strategy logs what it would do; a plan prints it instead.
    configure_logging("ERROR")

    grids_file = _one_file(positional_file, grids_file)
    every, per_symbol = _parse_prices(prices)
    try:
        loaded = load_grids_file(grids_file)
    except GridsFileError as exc:
        _fail(str(exc))
    grids = list(loaded.grids)
    if names:
        unknown = sorted(set(names) - {g.name for g in grids})
        if unknown:
            known = ", ".join(g.name for g in grids) or "none"
            wanted = ", ".join(short(n, 40) for n in unknown)
            _fail(f"--grid {wanted}: no such grid in {grids_file} (grids: {known}).")
        grids = [g for g in grids if g.name in names]
    unused = sorted(set(per_symbol) - {g.symbol for g in grids})
    if unused:
        listed = ", ".join(short(u, 40) for u in unused)
        _fail(f"--price {listed}: no planned grid trades that symbol.")
    unpriced = [] if every is not None else [g.symbol for g in grids if g.symbol not in per_symbol]
    replay = _replay_prices(loaded, unpriced)
    plans = []
    for grid in grids:
        if grid.symbol in per_symbol:
            price, source = per_symbol[grid.symbol], "--price"
        elif every is not None:
            price, source = every, "--price"
        elif grid.symbol in replay:
            price, source = replay[grid.symbol]
        else:
            price, source = (grid.lower_price + grid.upper_price) / 2, "middle of the range"
        try:
            plans.append(build_plan(grid, price, source))
        except GridLevelsError as exc:
            _fail(f'{grids_file}: grid "{grid.name}": {exc}.')
    if as_json:
        echo_json({"file": str(grids_file), "grids": [_as_json(p) for p in plans]})
    else:
        _render(plans, grids_file)


def _one_file(positional: Path | None, option: Path | None) -> Path:
    """The grids file, given as ``-s/--strategies`` or as the argument (not both)."""
    if positional is not None and option is not None and positional != option:
        _fail(f"two grids files: {positional} and -s {option}; give one.")
    chosen = option or positional
    if chosen is None:
        _fail("no grids file: give -s/--strategies FILE (or FILE).")
    return chosen
