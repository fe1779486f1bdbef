"""The ``gridsup`` command line. Subcommands live in ``gridsup.commands.*`` and are
imported only when invoked, so ``gridsup status`` does not pay for pandas or ccxt."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from gridsup import __version__
from gridsup.commands.output import JSON_META, cut_lines, echo_json, error_object

# name -> "module:attribute"; each command module owns its options and exit codes.
COMMANDS: dict[str, str] = {
    "plan": "gridsup.commands.plan:plan",
    "backtest": "gridsup.commands.backtest:backtest",
    "status": "gridsup.commands.control:status",
    "stop": "gridsup.commands.control:stop",
    "db": "gridsup.commands.db:db",
    "data": "gridsup.commands.data:data",
    "exchanges": "gridsup.commands.exchanges:exchanges",
    "orders": "gridsup.commands.history:orders",
    "trades": "gridsup.commands.history:trades",
    "stats": "gridsup.commands.history:stats",
    "health": "gridsup.commands.health:health",
    "export": "gridsup.commands.export:export",
    "start": "gridsup.commands.start:start",
    "pause": "gridsup.commands.grid_control:pause",
    "resume": "gridsup.commands.grid_control:resume",
    "stop-grid": "gridsup.commands.grid_control:stop_grid",
    "move": "gridsup.commands.cluster:move",
}


class LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Known before any subcommand parses its options, so that a usage error of a
        # `--json` invocation is printed as JSON too (gridsup.commands.output).
        ctx.meta[JSON_META] = "--json" in (args[: args.index("--")] if "--" in args else args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            # click echoes a bad value whole ('<50 KB>' is not a valid integer); its
            # message is typed Final, hence setattr.
            setattr(exc, "message", cut_lines(exc.message))  # noqa: B010
            if not ctx.meta.get(JSON_META):
                raise
            failed = getattr(exc, "ctx", None)  # UsageError carries the command's context
            sub = failed.command_path.partition(" ")[2] if failed is not None else ""
            sub = sub or ctx.invoked_subcommand or ""
            echo_json(error_object(exc.format_message(), exc.exit_code, sub))
            ctx.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridsup")
def cli() -> None:
    """gridsup: supervised spot grid trading on crypto exchanges."""


def main() -> None:
    try:
        cli.main(prog_name="gridsup")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
