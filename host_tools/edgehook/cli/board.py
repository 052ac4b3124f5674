"""`edgehook board`: run the virtual board and deploy the app to a board."""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

import click

from edgehook.board.vboard import VirtualBoard, make_board_dir


@click.group()
def board() -> None:
    """The board: a virtual one on this machine, or a real ESP32 on a serial port."""


@board.command("start")
@click.option("--dir", "board_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The board's flash: the folder it sees as `/`. Filled from the firmware tree "
                   "when missing or empty. Default: a temporary copy, removed on exit.")
@click.option("--firmware", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Firmware tree copied into a new board folder (default: the repository's "
                   "firmware/).")
@click.option("--heap", default="48k", show_default=True,
              help="MicroPython heap size, as on the target (bytes, or a k/M suffix).")
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
            seen = 0
            while not stop.wait(0.2) and vb.alive:
                for entry in vb.log[seen:]:
                    click.echo(f"board: {entry}", err=True)
                seen = len(vb.log)


COMMANDS = [board]
