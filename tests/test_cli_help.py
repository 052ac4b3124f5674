"""Every edgehook command and option explains itself, and the CLI's error convention holds."""

import subprocess
import sys

import click
from click.testing import CliRunner

from edgehook import __version__
from edgehook.cli import cli


def walk(command, path=()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, path + (name,))


def test_every_command_and_option_has_help():
    runner = CliRunner()
    for path, command in walk(cli):
        assert command.help, f"{' '.join(path)} has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{' '.join(path)} {param.opts} has no help"
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_version_and_unknown_command():
    ok = subprocess.run([sys.executable, "-m", "edgehook", "--version"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and __version__ in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "edgehook", "no-such-command"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.startswith("edgehook: ") and "hint:" in bad.stderr and "Traceback" not in bad.stderr


def test_a_group_without_a_subcommand_prints_its_help():
    proc = subprocess.run([sys.executable, "-m", "edgehook", "orp"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: edgehook orp") and "encode" in proc.stdout
    assert proc.stderr == ""
