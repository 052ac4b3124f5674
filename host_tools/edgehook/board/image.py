"""Build a one-shot flash image: MicroPython's base image plus a LittleFS filesystem with the app.

Where the filesystem goes is read from the partition table inside the base image (at flash
0x8000, CONFIG_PARTITION_TABLE_OFFSET of MicroPython's ESP32 builds):

* a data partition labelled `vfs` (MicroPython up to 1.25, `partitions-4MiB.csv`:
  `vfs, data, fat, 0x200000, 0x200000`) gives the region directly;
* without one (MicroPython 1.26 and later, `partitions-4MiBplus.csv` lists only nvs, phy_init
  and factory), `ports/esp32/main.c` registers `vfs` at boot from the end of the last partition
  to the end of the detected flash — 0x200000..0x400000 on a 4 MB ESP32_GENERIC.

MicroPython's `_boot.py` mounts that region as LittleFS v2 with 4096-byte blocks (the flash
sector, `esp32.Partition`'s block size) and formats it only when its first block is blank, so a
prebuilt filesystem is used as it is. esptool's `merge_bin` then lays the base image at the
chip's bootloader offset and the filesystem at its offset, in one file written at 0x0.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from esptool.cmds import merge_bin
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError
from littlefs import LittleFS, LittleFSError

from edgehook.board.deploy import build_files
from edgehook.board.flash import ESP_IMAGE_MAGIC, esptool_log, image_chip, image_offset
from edgehook.errors import UsageError

PARTITION_TABLE_OFFSET = 0x8000
BLOCK_SIZE = 4096
_ENTRY = struct.Struct("<2sBBII16sI")  # magic AA 50, type, subtype, offset, size, label, flags
# mpy-cross -march for native code on each chip family (bytecode alone runs anywhere)
_MARCH = {"esp32": "xtensawin", "esp32s2": "xtensawin", "esp32s3": "xtensawin"}
_SIZES = {"2MB": 2, "4MB": 4, "8MB": 8, "16MB": 16, "32MB": 32}


@dataclass
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int


@dataclass
class ImageResult:
    """What went where in the merged image."""

    output: Path
    base_offset: int
    fs_offset: int
    fs_size: int
    fs_source: str
    files: list[str]


def parse_partition_table(table: bytes) -> list[Partition]:
    """Entries of an ESP-IDF binary partition table (gen_esp32part.py format)."""
    parts = []
    for i in range(0, len(table) - _ENTRY.size + 1, _ENTRY.size):
        magic, ptype, subtype, offset, size, label, _ = _ENTRY.unpack_from(table, i)
        if magic != b"\xaa\x50":  # 0xEBEB starts the MD5 row, 0xFFFF the blank end
            break
        parts.append(Partition(label.rstrip(b"\0").decode(errors="replace"), ptype, subtype,
                               offset, size))
    return parts


def fs_region(base: bytes, base_offset: int, flash_size: int) -> tuple[int, int, str]:
    """(offset, size, how it was found) of MicroPython's filesystem for this base image."""
    start = PARTITION_TABLE_OFFSET - base_offset
    parts = parse_partition_table(base[start:start + 0xC00]) if start >= 0 else []
    if not parts:
        raise UsageError("no partition table at 0x8000 in the firmware image",
                         hint="use MicroPython's full .bin for the board (ESP32_GENERIC-…bin)")
    for p in parts:
        if p.type == 1 and p.label in ("vfs", "ffat"):
            return p.offset, p.size, f"the {p.label!r} partition"
    end = max(p.offset + p.size for p in parts)
    if end >= flash_size:
        raise UsageError(f"no room for a filesystem: the partitions end at {end:#x}, the flash "
                         f"at {flash_size:#x}", hint="pass the board's real --flash-size")
    return end, flash_size - end, "the end of the last partition to the end of flash"


def build_littlefs(files: dict[str, bytes], size: int) -> bytes:
    """A LittleFS v2 image of `size` bytes holding `files` (board path -> contents)."""
    # VfsLfs2's defaults in MicroPython's extmod/vfs_lfsx.c: read/prog size 32, lookahead 32
    fs = LittleFS(block_size=BLOCK_SIZE, block_count=size // BLOCK_SIZE, read_size=32,
                  prog_size=32, lookahead_size=32, name_max=255)
    for path, data in sorted(files.items()):
        parent = path.rpartition("/")[0]
        if parent.strip("/"):
            fs.makedirs(parent, exist_ok=True)
        with fs.open(path, "wb") as f:
            f.write(data)
    fs.unmount()
    return bytes(fs.context.buffer)


def build_image(firmware: Path, app_dir: Path, output: Path, chip: str = "esp32",
                flash_size: str = "4MB", mpy: bool = True) -> ImageResult:
    """Merge the MicroPython base image and a LittleFS image of the app into `output`."""
    if flash_size not in _SIZES:
        raise UsageError(f"unsupported flash size {flash_size!r}",
                         hint=f"use one of: {', '.join(_SIZES)}")
    flash_bytes = _SIZES[flash_size] << 20
    try:
        base = Path(firmware).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {firmware}: {exc.strerror}") from exc
    if not base or base[0] != ESP_IMAGE_MAGIC:
        raise UsageError(f"{firmware} is not an ESP firmware image (no 0xE9 header)")
    base_offset = image_offset(chip)
    made_for = image_chip(base)
    if made_for is not None and made_for.lower().replace("-", "") != chip:
        wanted = CHIP_DEFS[chip].CHIP_NAME
        raise UsageError(f"{firmware} is MicroPython for {made_for}, not {wanted}",
                         hint=f"pass --chip {made_for.lower().replace('-', '')}, or use the "
                              f".bin for {wanted}")
    fs_offset, fs_size, source = fs_region(base, base_offset, flash_bytes)
    if base_offset + len(base) > fs_offset:
        raise UsageError(f"the firmware ({len(base)} bytes at {base_offset:#x}) runs into the "
                         f"filesystem at {fs_offset:#x}", hint="is this the right --chip?")
    files = build_files(app_dir, mpy, _MARCH.get(chip))
    try:
        fs = build_littlefs(files, fs_size)
    except LittleFSError as exc:
        if exc.code != LittleFSError.Error.LFS_ERR_NOSPC:  # a name too long, a path clash
            raise UsageError(f"cannot put the app in a LittleFS image: {exc}") from exc
        total = sum(len(data) for data in files.values())
        raise UsageError(f"the app ({total // 1024} KiB in {len(files)} files) does not fit in "
                         f"the {fs_size // 1024} KiB filesystem",
                         hint="leave large files out of --dir, or pass the board's real "
                              "--flash-size") from exc
    with esptool_log(None):
        try:
            merged = merge_bin([(base_offset, base), (fs_offset, fs)], chip=chip, output=None)
        except FatalError as exc:
            raise UsageError(f"esptool merge-bin failed: {str(exc).splitlines()[0]}") from exc
    assert isinstance(merged, bytes)
    try:
        Path(output).write_bytes(merged)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}",
                         hint="pass -o with a path in a folder you can write to") from exc
    return ImageResult(Path(output), base_offset, fs_offset, fs_size, source, sorted(files))
