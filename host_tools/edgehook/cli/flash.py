"""`edgehook flash` and `edgehook image build`: MicroPython onto an ESP32, with or without the app."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from edgehook.board.vboard import REPO_FIRMWARE

# esptool's target names (esptool.targets.CHIP_DEFS), listed here so that --help does not load it
CHIPS = ["auto", "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6",
         "esp32c61", "esp32h2", "esp32p4"]


@click.command("flash")
@click.option("--port", required=True, help="Serial port of the ESP32 (e.g. /dev/ttyUSB0).")
@click.option("--firmware", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="MicroPython .bin for the board (from micropython.org/download), or an "
                   "image from `edgehook image build`.")
@click.option("--chip", type=click.Choice(CHIPS), default="auto", show_default=True,
              help="Chip family; auto asks the chip.")
@click.option("--baud", default=460800, show_default=True, type=click.IntRange(9600, 5000000),
              help="Baud rate while writing (connection starts at 115200).")
@click.option("--erase", is_flag=True, help="Erase the whole flash first (removes the app too).")
@click.option("--offset-zero", is_flag=True,
              help="Write at 0x0 (for an image from `edgehook image build`) instead of the "
                   "chip's bootloader offset.")
def flash(port: str, firmware: Path, chip: str, baud: int, erase: bool,
          offset_zero: bool) -> None:
    """Write MicroPython to an ESP32 with esptool, at the right offset for its chip, and verify.

    The offset is where the chip's bootloader starts: 0x1000 on ESP32 and ESP32-S2, 0x2000 on
    ESP32-C5 and ESP32-P4, 0x0 on ESP32-S3 and the other C/H chips (docs/board.md).
    """
    from edgehook.board.flash import flash_firmware  # esptool loads only when used

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    err = Console(stderr=True)
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("connecting", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            bar.update(task, description=what or "writing", completed=done, total=total)

        result = flash_firmware(port, firmware, chip=chip, baud=baud, erase=erase,
                                progress=on_progress, offset=0 if offset_zero else None)
    click.echo(f"wrote {result.size} bytes at {result.offset:#x} on {result.chip} "
               f"({result.flash_size or 'unknown'} flash), verified")


@click.group()
def image() -> None:
    """Flash images that install MicroPython and the app in one write."""


@image.command("build")
@click.option("--firmware", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="MicroPython base .bin for the board (with its partition table).")
@click.option("--chip", type=click.Choice([c for c in CHIPS if c != "auto"]), default="esp32",
              show_default=True, help="Chip family of the board.")
@click.option("--flash-size", default="4MB", show_default=True,
              type=click.Choice(["2MB", "4MB", "8MB", "16MB", "32MB"]),
              help="The board's flash size: the filesystem runs to its end.")
@click.option("--dir", "app_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=REPO_FIRMWARE, show_default="firmware/", help="The app folder to include.")
@click.option("--mpy/--no-mpy", default=True, show_default=True,
              help="Compile modules to .mpy with mpy-cross (boot.py and main.py stay source).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The merged image to write.")
def build(firmware: Path, chip: str, flash_size: str, app_dir: Path, mpy: bool,
          output: Path) -> None:
    """Merge MicroPython and a LittleFS image of the app into one file for `write-flash 0x0`."""
    from edgehook.board.image import build_image  # esptool and littlefs load only when used

    result = build_image(firmware, app_dir, output, chip=chip, flash_size=flash_size, mpy=mpy)
    click.echo(f"{result.output}: MicroPython at {result.base_offset:#x}, filesystem at "
               f"{result.fs_offset:#x} ({result.fs_size // 1024} KiB, {result.fs_source}) with "
               f"{len(result.files)} files")
    click.echo(f"install: esptool --chip {chip} --port PORT write-flash 0x0 {result.output}")


COMMANDS = [flash, image]
