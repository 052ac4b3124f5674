"""The `edgehook` command: one click group, each part's commands registered from its own module.

Only the CLI prints. An `EdgehookError` is caught once here and becomes `edgehook: <message>`
plus a hint on stderr with its exit code; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from edgehook import __version__
from edgehook.errors import EdgehookError

# One module per part under edgehook.cli; each exposes `COMMANDS`, a list of click commands/groups.
COMMAND_MODULES = [
    "orp",
    "cloud",
    "board",
    "flash",
    "bundle",
    "demo",
    "bridge",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgehook")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """edgehook: sensor readings from a microcontroller to your webhooks, on the Octave model.

    Start with `edgehook demo`, which runs the whole path on this machine with no hardware.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"edgehook.cli.{name}")
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        rc = cli.main(args=argv, prog_name="edgehook", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgehook: aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        # a group named without a subcommand: its help, as `--help` would print it
        click.echo(exc.ctx.get_help() if exc.ctx else cli.get_help(click.Context(cli)))
        sys.exit(0)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "edgehook"
        click.echo(f"edgehook: {exc.format_message()}", err=True)
        click.echo(f"  hint: see '{command} --help'", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"edgehook: {exc.format_message()}", err=True)
        sys.exit(1)
    except EdgehookError as exc:
        click.echo(f"edgehook: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("edgehook: interrupted", err=True)
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)
