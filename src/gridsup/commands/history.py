"""``gridsup orders``, ``gridsup trades`` and ``gridsup stats``: history from the database,
as rich tables or ``--json`` (money as exact decimal strings).

Exit codes as ``gridsup db``: 1 unreachable database, 2 wrong URL or no gridsup tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gridsup.commands.db import db_option, require_schema, run_with_db
from gridsup.commands.output import echo_json, print_table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from gridsup.store.database import Database

T = TypeVar("T")

_STATUSES = ["open", "closed", "canceled", "rejected", "expired"]


def money(value: Decimal | None) -> str | None:
    """Plain decimal text (never 1E-10 notation); None stays None."""
    return None if value is None else format(value, "f")


def _quantized(value: Decimal | None) -> Decimal | None:
    """An average, which division leaves with 28 digits, to the store's 18 decimals."""
    if value is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 60  # 20 integer digits + 18 decimals fit
        return value.quantize(Decimal(1).scaleb(-18)).normalize() if value else Decimal(0)


def _read(db_url: str | None, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``query`` in one session, on a database that has gridsup's tables (store errors
    become one line and an exit code, as in ``run_with_db``)."""

    async def action(db: Database) -> T:
        await require_schema(db)
        async with db.session() as session:
            return await query(session)

    return run_with_db(db_url, action)


def _show(title: str, columns: Sequence[str], rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json(rows)
    else:
        _print_table(f"{title} ({len(rows)})", columns, rows)


def _print_table(title: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for name in columns:
        table.add_column(name, justify="right" if name in _NUMERIC else "left")
    for row in rows:
        table.add_row(*("-" if row[c] is None else escape(str(row[c])) for c in columns))
    print_table(table)


_NUMERIC = {"price", "amount", "filled", "fee", "profit", "open_price", "close_price", "value"}

strategy_option = click.option("--strategy", default=None, help="Only this grid.")
symbol_option = click.option("--symbol", default=None, help="Only this market, e.g. BTC/USDT.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
filters = [
    strategy_option,
    symbol_option,
    click.option(
        "--limit", default=50, show_default=True, type=click.IntRange(min=1, max=1_000_000)
    ),
    json_option,
    db_option,
]


def with_filters(func: Any) -> Any:
    for option in reversed(filters):
        func = option(func)
    return func


@click.command("orders")
@click.option("--status", type=click.Choice(_STATUSES), default=None, help="Only this status.")
@with_filters
def orders(
    status: str | None,
    strategy: str | None,
    symbol: str | None,
    limit: int,
    as_json: bool,
    db_url: str | None,
) -> None:
    """Orders, newest first."""
    from gridsup.messages.common import OrderStatus
    from gridsup.store.orders import OrderRepository

    found = _read(
        db_url,
        lambda session: OrderRepository(session).history(
            strategy=strategy,
            symbol=symbol,
            status=OrderStatus(status) if status else None,
            limit=limit,
        ),
    )
    rows = [
        {
            "client_order_id": o.client_order_id,
            "strategy": o.strategy,
            "exchange": o.exchange,
            "symbol": o.symbol,
            "side": o.side.value,
            "type": o.type.value,
            "status": o.status.value,
            "price": money(o.price),
            "amount": money(o.amount),
            "filled": money(o.filled),
            "fee": money(o.fee),
            "level": o.level,
            "timestamp": o.timestamp,
        }
        for o in found
    ]
    columns = ["client_order_id", "strategy", "symbol", "side", "status", "price", "amount",
               "filled", "fee"]  # fmt: skip
    _show("orders", columns, rows, as_json)


@click.command("trades")
@click.option("--open/--closed", "is_open", default=None, help="Only open or only closed ones.")
@with_filters
def trades(
    is_open: bool | None,
    strategy: str | None,
    symbol: str | None,
    limit: int,
    as_json: bool,
    db_url: str | None,
) -> None:
    """Grid round trips, newest first."""
    from gridsup.store.trades import TradeRepository

    found = _read(
        db_url,
        lambda session: TradeRepository(session).history(
            strategy=strategy, symbol=symbol, is_open=is_open, limit=limit
        ),
    )
    rows = [
        {
            "id": t.id,
            "strategy": t.strategy,
            "exchange": t.exchange,
            "symbol": t.symbol,
            "side": t.side.value,
            "amount": money(t.amount),
            "open_price": money(t.open_price),
            "close_price": money(t.close_price),
            "fee": money(t.fee),
            "profit": money(t.profit),
            "is_open": t.is_open,
            "opened_at": t.opened_at,
            "closed_at": t.closed_at,
        }
        for t in found
    ]
    columns = ["id", "strategy", "symbol", "side", "amount", "open_price", "close_price",
               "fee", "profit"]  # fmt: skip
    _show("trades", columns, rows, as_json)


@click.command("stats")
@strategy_option
@symbol_option
@json_option
@db_option
def stats(strategy: str | None, symbol: str | None, as_json: bool, db_url: str | None) -> None:
    """Trade statistics: count, win rate, profit, best and worst trade, fees."""
    from gridsup.store.fills import FillRepository
    from gridsup.store.trades import TradeRepository

    async def query(session: Any) -> tuple[Any, Any]:
        figures = await TradeRepository(session).statistics(strategy=strategy, symbol=symbol)
        flows = await FillRepository(session).asset_flows(strategy=strategy, symbol=symbol)
        return figures, flows

    figures, flows = _read(db_url, query)
    result = {
        "trades": figures.trades,
        "open_trades": figures.open_trades,
        "wins": figures.wins,
        "losses": figures.losses,
        "win_rate": money(figures.win_rate.quantize(Decimal("0.0001"))),
        "total_profit": money(figures.total_profit),
        "average_profit": money(_quantized(figures.average_profit)),
        "max_win": money(figures.max_win),
        "max_loss": money(figures.max_loss),
        "fees": money(figures.fees),
    }
    # From the fills: fees by the asset charged (base, quote, BNB), and what the fills
    # moved each balance by (the exchange's balance = the start + this, fees included).
    by_asset = {
        "fees_by_asset": {a: money(v) for a, v in sorted(flows.fees.items())},
        "balance_change": {a: money(v) for a, v in sorted(flows.balance_change.items())},
    }
    if as_json:
        echo_json({**result, **by_asset})
        return
    rows: list[dict[str, Any]] = [{"figure": k, "value": v} for k, v in result.items()]
    for name, values in by_asset.items():
        rows += [{"figure": f"{name}:{asset}", "value": v} for asset, v in values.items()]
    _print_table("trade statistics", ["figure", "value"], rows)
