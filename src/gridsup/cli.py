"""The ``gridsup`` command line. Subcommands live in ``gridsup.commands.*`` and are
imported only when invoked, so ``gridsup status`` does not pay for pandas or ccxt."""

from __future__ import annotations

import importlib
import sys

import click

from gridsup import __version__

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
    "start": "gridsup.commands.start:start",
}


class LazyGroup(click.Group):
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
