"""``gridsup export fills|round-trips``: every fill or every closed round trip, as CSV or
Parquet, for accounting and taxes (columns: docs/operations.md, "Export").

Read-only: it never creates a database (a SQLite file that is not there is an error, not
an empty export) and writes only the ``--output`` file. Totals of the round trips go to
stderr (or into ``--json``'s summary) and equal what ``gridsup stats`` reports.

Exit codes as ``gridsup db``: 0 written, 1 the database is unreachable, 2 bad input (no
such database, no gridsup tables, a bad ``--fee-price``, an unwritable output).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gridsup.commands.db import EXIT_CONFIG, db_option, fail, require_schema, run_with_db
from gridsup.commands.output import key_number

if TYPE_CHECKING:
    from gridsup.store.database import Database

KINDS = ("fills", "round-trips")
_TIME_FIELDS = {"timestamp": "time", "opened_at": "opened", "closed_at": "closed"}
_SCALE = Decimal(10) ** -18  # Parquet decimal128(38, 18)


def _refuse(message: str, code: int, as_json: bool) -> NoReturn:
    """One line on stderr, or with ``--json`` one object on stdout; exit ``code``."""
    if as_json:
        click.echo(json.dumps({"error": message, "code": code}))
        raise SystemExit(code)
    fail(message, code)


def _fee_prices(values: tuple[str, ...], as_json: bool) -> dict[str, Decimal]:
    prices: dict[str, Decimal] = {}
    for text in values:
        asset, sep, value = key_number(text)
        if not sep or not asset or not value.is_finite() or value <= 0:
            why = f"--fee-price {text[:40]!r}: want ASSET=PRICE in quote, e.g. BNB=600"
            _refuse(why, EXIT_CONFIG, as_json)
        prices[asset.upper()] = value
    return prices


def _require_file(db_url: str | None, as_json: bool) -> None:
    """A SQLite database must exist already: reading must not create it."""
    from gridsup.store.database import resolve_url, sqlite_path
    from gridsup.store.errors import DatabaseConfigError

    try:
        url = resolve_url(db_url)
    except DatabaseConfigError as exc:
        _refuse(str(exc), EXIT_CONFIG, as_json)
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        why = f"no database at {path}: nothing to export (run `gridsup start` first)"
        _refuse(why, EXIT_CONFIG, as_json)


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds")


def _column(name: str) -> str:
    return f"{name}_ms" if name == "timestamp" else name


def columns_of(row_type: type) -> list[str]:
    """The export's columns: the row's fields, an ISO time before each ms timestamp."""
    out: list[str] = []
    for f in dataclasses.fields(row_type):
        if f.name in _TIME_FIELDS:
            out.append(_TIME_FIELDS[f.name])
        out.append(_column(f.name))
    return out


def records(rows: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts keyed by :func:`columns_of`."""
    out: list[dict[str, Any]] = []
    for row in rows:
        record: dict[str, Any] = {}
        for key, value in dataclasses.asdict(row).items():
            if key in _TIME_FIELDS:
                record[_TIME_FIELDS[key]] = iso(value)
            record[_column(key)] = value
        out.append(record)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_csv(rows: list[dict[str, Any]], columns: list[str], out: io.TextIOBase | Any) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row[c]) for c in columns])


def write_parquet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    """Money as decimal128(38, 18), times as UTC timestamps, the rest as is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for column in columns:
        values = [row[column] for row in rows]
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, Decimal):
            array = pa.array(
                [None if v is None else v.quantize(_SCALE) for v in values],
                type=pa.decimal128(38, 18),
            )
        elif column in _TIME_FIELDS.values():
            array = pa.array(
                [dt.datetime.fromisoformat(v) for v in values], type=pa.timestamp("ms", tz="UTC")
            )
        else:
            array = pa.array(values)
        arrays.append(array)
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), path)


@click.command("export")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File to write (.parquet: Parquet; else CSV). Default: CSV on stdout.",
)
@click.option("--strategy", default=None, help="Only this grid.")
@click.option("--symbol", default=None, help="Only this market, e.g. BTC/USDT.")
@click.option(
    "--fee-price",
    "fee_prices",
    multiple=True,
    metavar="ASSET=PRICE",
    help="Value fees charged in ASSET (e.g. BNB) at PRICE quote per unit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary (rows, totals) as JSON.")
@db_option
def export(
    kind: str,
    output: Path | None,
    strategy: str | None,
    symbol: str | None,
    fee_prices: tuple[str, ...],
    as_json: bool,
    db_url: str | None,
) -> None:
    """Export every fill or every closed round trip (time, symbol, side, amount, price,
    fee, fee asset, the fee's quote value; round trips also cost basis and realized
    profit) as CSV or Parquet. Round-trip totals equal `gridsup stats`."""
    from gridsup.store import export as rows_of

    prices = _fee_prices(fee_prices, as_json)
    parquet = output is not None and output.suffix.lower() == ".parquet"
    if as_json and output is None:
        _refuse("--json prints the summary: give the rows a file with --output", EXIT_CONFIG, True)
    _require_file(db_url, as_json)

    async def action(db: Database) -> tuple[list[Any], dict[str, Any]]:
        await require_schema(db)
        async with db.session() as session:
            if kind == "fills":
                found: list[Any] = await rows_of.fill_rows(
                    session, strategy=strategy, symbol=symbol, fee_prices=prices
                )
                summary: dict[str, Any] = {"rows": len(found)}
            else:
                found = await rows_of.round_trip_rows(session, strategy=strategy, symbol=symbol)
                summary = {"rows": len(found), **rows_of.totals(found)}
        return found, summary

    found, summary = run_with_db(db_url, action)
    rows = records(found)
    columns = columns_of(rows_of.FillRow if kind == "fills" else rows_of.RoundTripRow)
    try:
        if output is None:
            write_csv(rows, columns, sys.stdout)
        elif parquet:
            write_parquet(rows, columns, output)
        else:
            with output.open("w", newline="", encoding="utf-8") as out:
                write_csv(rows, columns, out)
    except OSError as exc:
        _refuse(f"cannot write {output}: {exc.strerror or exc}", EXIT_CONFIG, as_json)
    summary = {k: _text(v) if isinstance(v, Decimal) else v for k, v in summary.items()}
    if as_json:
        click.echo(json.dumps({"kind": kind, "output": str(output), **summary}, indent=2))
    else:
        line = ", ".join(f"{k} {v}" for k, v in summary.items())
        click.echo(f"gridsup export {kind}: {line}", err=True)
