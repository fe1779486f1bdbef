"""The conventions every ``gridsup`` command follows (docs/cli.md), in one place so a
new command gets them by using these helpers:

* exit codes: 0 done, 1 a runtime failure (database or exchange unreachable), 2 bad
  input (a file, a field, an option), 3 no supervisor answered;
* a refusal is one line per problem on stderr, ``gridsup <command>: <message>``, naming
  file, grid, field and value; every echoed value is cut by :func:`short`;
* under ``--json`` stdout holds JSON and nothing else, errors included: an error is
  ``{"error": {"command", "exit_code", "message", "problems"}}`` with the same exit
  code as without ``--json`` (:func:`fail` decides which form from the context);
* the grids file is ``-s/--strategies`` (:func:`strategies_option`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gridsup.strategy.echo import ECHO_LIMIT, echo_value

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_NO_SUPERVISOR = 3

# ctx.meta key (shared by every context of one invocation): was --json given?
JSON_META = "gridsup.json"

F = TypeVar("F", bound=Callable[..., Any])


def short(value: Any, limit: int = ECHO_LIMIT) -> str:
    """A value as a message echoes it: strings quoted and escaped, cut past ``limit``."""
    return echo_value(value, limit)


def cut_lines(text: str, limit: int = 300) -> str:
    """``text`` with every line longer than ``limit`` cut (click's own messages echo a
    value whole: ``'<50 KB>' is not a valid integer``)."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}... ({len(line)} characters)"
        for line in text.splitlines()
    )


def json_requested(ctx: click.Context | None = None) -> bool:
    """Whether the running command was given ``--json``."""
    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    if ctx is None:
        return False
    if ctx.meta.get(JSON_META):
        return True
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def command_name(ctx: click.Context | None = None) -> str:
    """``plan``, ``db upgrade``: the command being run, for messages."""
    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    if ctx is None:
        return ""
    return ctx.command_path.partition(" ")[2] or ctx.command_path


def error_object(message: str, code: int, command: str) -> dict[str, Any]:
    """The ``--json`` form of a refusal."""
    return {
        "error": {
            "command": command,
            "exit_code": code,
            "message": message,
            "problems": message.splitlines(),
        }
    }


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (Decimals and paths as strings)."""
    click.echo(json.dumps(data, indent=2, default=str))


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """End the command: ``message`` on stderr (or as a JSON error object on stdout
    under ``--json``) and exit ``code``.

    Raises:
        SystemExit: always, with ``code``.
    """
    ctx = click.get_current_context(silent=True)
    name = command_name(ctx)
    # A safety net: a value echoed by code that did not cut it (a store or exchange
    # message) still ends in a readable line.
    message = cut_lines(message, 400)
    if json_requested(ctx):
        echo_json(error_object(message, code, name))
    else:
        click.echo(f"gridsup {name}: {message}" if name else f"gridsup: {message}", err=True)
    raise SystemExit(code)


run_dir_option = click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="GRIDSUP_RUN_DIR",
    help="Base run directory of the supervisor "
    "(default: $XDG_RUNTIME_DIR/gridsup or /tmp/gridsup-UID).",
)


def run_base(run_dir: Path | None) -> Path:
    """The base run directory: ``--run-dir`` when given, else the default one."""
    from gridsup.runtime.endpoints import default_base

    return run_dir if run_dir is not None else default_base()


def strategies_option(required: bool = True, help_text: str | None = None) -> Callable[[F], F]:
    """``-s/--strategies FILE``: the grids file, named the same in every command."""
    return click.option(
        "-s",
        "--strategies",
        "grids_file",
        required=required,
        default=None,
        type=click.Path(path_type=Path, dir_okay=False),
        help=help_text or "The grids file (grids.toml).",
    )


def key_number(text: str, *, last: bool = False) -> tuple[str, bool, Decimal]:
    """``KEY=NUMBER`` (an option such as ``--price BTC/USDT=60000``) split at its first
    "=" (at its last with ``last``; then text without one is all number): the key, whether
    there was an "=", and the number, NaN when it is none (callers refuse what is not
    finite)."""
    key, sep, number = text.rpartition("=") if last else text.partition("=")
    try:
        value = Decimal(number)
    except InvalidOperation:
        value = Decimal("NaN")
    return key, bool(sep), value


def grid_price(value: Decimal) -> bool:
    """Is ``value`` a price a grids file accepts (finite, within the grid's price bounds,
    at most 18 significant digits)?"""
    from gridsup.strategy.grid.config import MAX_DIGITS, MAX_PRICE, MIN_PRICE

    return (
        value.is_finite()
        and MIN_PRICE <= value <= MAX_PRICE
        and len(value.as_tuple().digits) <= MAX_DIGITS
    )


class DecimalRange(click.ParamType):
    """A finite ``Decimal`` option in ``[low, high]`` (``low`` excluded when ``open_low``)
    with at most 18 significant digits: the same bounds as a grids file's numbers."""

    name = "decimal"

    def __init__(self, low: Decimal, high: Decimal, *, open_low: bool = False) -> None:
        self.low, self.high, self.open_low = low, high, open_low

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from gridsup.strategy.grid.config import MAX_DIGITS

        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(f"{short(value)} is not a number", param, ctx)
        finite = number.is_finite()  # NaN cannot even be compared
        above_low = finite and (number > self.low if self.open_low else number >= self.low)
        if not above_low or number > self.high:
            bracket = "(" if self.open_low else "["
            self.fail(
                f"must be a number in {bracket}{self.low}, {self.high}], got {short(value)}",
                param,
                ctx,
            )
        if len(number.as_tuple().digits) > MAX_DIGITS:
            self.fail(f"has more than {MAX_DIGITS} significant digits: {short(value)}", param, ctx)
        return number


def print_table(table: Any) -> None:
    """Print a rich ``Table`` without cutting a value: piped or redirected output gets the
    table's natural width (not rich's default 80 columns); on a terminal narrower than
    the table, cells fold onto more lines instead of ending in an ellipsis."""
    from rich.console import Console
    from rich.measure import Measurement

    for column in table.columns:
        column.overflow = "fold"
    console = Console()
    if not console.is_terminal:
        needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
        console = Console(width=max(console.width, needed))
    console.print(table)


class PositiveFloat(click.ParamType):
    """A finite number in ``(0, high]`` (click's FloatRange lets NaN through)."""

    def __init__(self, high: float, what: str = "number") -> None:
        self.high, self.what = high, what
        self.name = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{short(value)} is not a number", param, ctx)
        if not math.isfinite(number) or not 0 < number <= self.high:
            self.fail(
                f"must be more than 0 and at most {self.high:g} ({self.what}), got {short(value)}",
                param,
                ctx,
            )
        return number


def Seconds(high: float = 86_400.0) -> PositiveFloat:
    """Seconds in ``(0, high]``."""
    return PositiveFloat(high, "seconds")
