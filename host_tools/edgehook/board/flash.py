"""Every call into esptool's library: write a MicroPython image to an ESP32 and verify it.

esptool's log goes to Python logging and its progress to a callback, so only the CLI prints;
its failures become one-line errors with a hint for what the user can do.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esp_pylib.logger import EspLog
from esptool.cmds import (
    attach_flash,
    connect_esp,
    detect_flash_size,
    erase_flash,
    reset_chip,
    run_stub,
    verify_flash,
    write_flash,
)
from esptool.logger import TemplateLogger, log
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError

from edgehook.errors import DeviceError, UsageError

logger = logging.getLogger(__name__)

ESP_IMAGE_MAGIC = 0xE9  # first byte of an ESP bootloader/app image (esptool bin_image.py)
CHIPS = ["auto", *CHIP_DEFS]
Progress = Callable[[int, int, str], None]  # (done, total, what)


def image_offset(chip: str) -> int:
    """Flash offset of the MicroPython image for `chip`: where the bootloader starts.

    0x1000 on ESP32 and ESP32-S2, 0x0 on ESP32-S3/C3/C6/H2, 0x2000 on ESP32-P4/C5: esptool's
    `BOOTLOADER_FLASH_OFFSET` of each target class (the ESP-IDF bootloader offset), which is
    also where micropython.org's download pages say to write the `.bin`.
    """
    try:
        return int(CHIP_DEFS[chip].BOOTLOADER_FLASH_OFFSET)
    except KeyError:
        raise UsageError(f"unknown chip {chip!r}", hint=f"use one of: {', '.join(CHIPS)}") from None


def image_chip(data: bytes) -> str | None:
    """The chip an ESP image is built for (esptool's CHIP_NAME), from the chip id of its extended
    header (bytes 12-13, esptool bin_image.py); None when the id is no known chip's."""
    if len(data) < 14 or data[0] != ESP_IMAGE_MAGIC:
        return None
    chip_id = int.from_bytes(data[12:14], "little")
    for target in CHIP_DEFS.values():
        if getattr(target, "IMAGE_CHIP_ID", None) == chip_id:
            return str(target.CHIP_NAME)
    return None


@dataclass
class FlashResult:
    """What was written where."""

    chip: str
    offset: int
    size: int
    flash_size: str | None


class _Log(TemplateLogger):
    """esptool's messages to Python logging, its progress bars to a callback."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def print(self, *args: Any, **kwargs: Any) -> None:
        text = " ".join(str(a) for a in args).strip()
        if text:
            logger.info("esptool: %s", text)

    def note(self, message: str) -> None:
        logger.info("esptool note: %s", message)

    def warning(self, message: str) -> None:
        logger.warning("esptool: %s", message)

    def error(self, message: str) -> None:
        logger.error("esptool: %s", message)

    def stage(self, finish: bool = False) -> None:
        pass

    def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                     bar_length: int = 30) -> None:
        if self._progress:
            self._progress(cur_iter, total_iters, prefix.strip())

    def set_verbosity(self, verbosity: str) -> None:
        pass


@contextlib.contextmanager
def esptool_log(progress: Progress | None) -> Iterator[None]:
    """Route esptool's log to Python logging (and its progress to `progress`) meanwhile."""
    previous = EspLog.instance
    log.set_logger(_Log(progress))
    try:
        yield
    finally:
        EspLog.instance = previous


def _device_error(exc: FatalError, port: str, chip: str) -> Exception:
    """One line and a hint for esptool's common failures (issue 4)."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "Permission denied" in text:
        return DeviceError(f"permission denied opening {port}",
                           hint="add yourself to the serial group (sudo usermod -aG dialout "
                                "$USER), then log in again")
    if "Could not open" in text:
        return DeviceError(f"cannot open {port}: busy or not there",
                           hint="check the port name and close other programs using it")
    wrong = re.search(r"This chip is (\S+), not (\S+)\.", text)
    if wrong:
        return DeviceError(f"wrong chip: the board is {wrong.group(1)}, not {wrong.group(2)}",
                           hint=f"pass --chip {wrong.group(1).lower().replace('-', '')} "
                                "or --chip auto")
    fit = re.search(r"\(length (\d+)\) at offset (0x[0-9a-f]+) will not fit in (\d+) bytes", text)
    if fit:
        size, offset, flash = int(fit.group(1)), fit.group(2), int(fit.group(3))
        return UsageError(f"the image ({size} bytes at {offset}) is larger than the board's "
                          f"{flash // 1024 // 1024} MB flash",
                          hint="use the MicroPython build for this board's flash size")
    if "requires chip revision" in first:  # esptool's image check; its advice is --force
        return UsageError(first.replace(". Use --force to flash anyway.", ""),
                          hint="use a MicroPython build made for this chip's revision")
    if any(s in text for s in ("Failed to connect", "No serial data received",
                               "Timed out waiting for packet header")):
        return DeviceError(f"no answer from the {chip if chip != 'auto' else 'ESP32'} "
                           f"bootloader on {port}",
                           hint="hold BOOT and tap EN (reset), check the USB cable and its "
                                "driver, or try a lower --baud")
    return DeviceError(f"esptool failed: {first}")


def _merged_at(data: bytes) -> int:
    """The offset of the image inside a merged file that starts with blank flash (0xFF), else 0."""
    for at in sorted({int(t.BOOTLOADER_FLASH_OFFSET) for t in CHIP_DEFS.values()} - {0}):
        if len(data) > at and data[at] == ESP_IMAGE_MAGIC and data[:at].count(0xFF) == at:
            return at
    return 0


def _check_image_chip(firmware: Path, data: bytes, board: str) -> None:
    """Refuse a MicroPython image built for another chip (esptool would say "use --force")."""
    made_for = image_chip(data)
    if made_for is not None and made_for != board:
        raise UsageError(f"{firmware} is MicroPython for {made_for}; the board is {board}",
                         hint=f"download the .bin for {board} from micropython.org/download")


def flash_firmware(port: str, firmware: Path, chip: str = "auto", baud: int = 460800,
                   erase: bool = False, progress: Progress | None = None,
                   connect_attempts: int = 7, reset: bool = True,
                   offset: int | None = None) -> FlashResult:
    """Connect, identify the chip, optionally erase, write `firmware` at its offset, verify.

    `offset` None: the chip's bootloader offset (a MicroPython .bin); 0 for a merged image.
    """
    if chip not in CHIPS:
        raise UsageError(f"unknown chip {chip!r}", hint=f"use one of: {', '.join(CHIPS)}")
    try:
        data = Path(firmware).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {firmware}: {exc.strerror}") from exc
    merged_at = _merged_at(data) if offset is None else 0
    if merged_at:
        raise UsageError(f"{firmware} holds MicroPython at {merged_at:#x}: an image from "
                         "`edgehook image build`, written from 0x0", hint="pass --offset-zero")
    if not data or (offset is None and data[0] != ESP_IMAGE_MAGIC):
        raise UsageError(f"{firmware} is not an ESP firmware image (no 0xE9 header)",
                         hint="download the .bin for your board from micropython.org/download")
    with esptool_log(progress):
        try:
            with connect_esp(port=port, chip=chip, connect_attempts=connect_attempts) as esp:
                name = esp.CHIP_NAME.lower().replace("-", "")
                if offset is None:
                    offset = image_offset(name)
                    _check_image_chip(firmware, data, esp.CHIP_NAME)
                esp = run_stub(esp)
                if baud != esp.ESP_ROM_BAUD:
                    esp.change_baud(baud)
                attach_flash(esp)
                flash_size = detect_flash_size(esp)
                if erase:
                    erase_flash(esp)
                write_flash(esp, [(offset, data)])
                verify_flash(esp, [(offset, data)])
                if reset:
                    reset_chip(esp, "hard-reset")
        except FatalError as exc:
            raise _device_error(exc, port, chip) from exc
    return FlashResult(chip=esp.CHIP_NAME, offset=offset, size=len(data), flash_size=flash_size)
