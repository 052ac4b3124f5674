"""`edgehook image build`: MicroPython base + LittleFS app image, checked by reading it back."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from esptool.bin_image import ELFSection, ESP32FirmwareImage
from littlefs import LittleFS, UserContext

from edgehook.board.image import build_image, parse_partition_table
from edgehook.errors import UsageError
from tests.board.test_deploy import make_app

MB = 1 << 20


def esp_image(entry: int, fill: int, size: int) -> bytes:
    """A valid ESP32 app/bootloader image made with esptool's own image class."""
    img = ESP32FirmwareImage()
    img.entrypoint = entry
    img.segments = [ELFSection(b".iram0.text", entry, bytes([fill]) * size, 0)]
    img.flash_mode, img.flash_size_freq = 2, 0x20  # DIO, 4MB
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.bin"
        img.save(str(path))
        return path.read_bytes()


def partition_table(rows: list[tuple[str, int, int, int, int]]) -> bytes:
    """A binary partition table as gen_esp32part.py writes it: entries, an MD5 row, 0xFF."""
    body = b"".join(struct.pack("<2sBBII16sI", b"\xaa\x50", t, st, off, size,
                                label.encode(), 0) for label, t, st, off, size in rows)
    body += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(body).digest()
    return body + b"\xff" * (0xC00 - len(body))


PLUS_4MIB = [("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
             ("factory", 0, 0, 0x10000, 0x1F0000)]  # partitions-4MiBplus.csv (1.26+)
OLD_4MIB = PLUS_4MIB + [("vfs", 1, 0x81, 0x200000, 0x200000)]  # partitions-4MiB.csv (<=1.25)


def micropython_bin(rows: list[tuple[str, int, int, int, int]]) -> bytes:
    """Shaped like ESP32_GENERIC-*.bin, written at 0x1000: bootloader, table, app."""
    base = bytearray(b"\xff" * (0x10000 - 0x1000))
    boot = esp_image(0x40080400, 1, 64)
    base[:len(boot)] = boot
    base[0x7000:0x7C00] = partition_table(rows)
    return bytes(base) + esp_image(0x400D0020, 2, 4096)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "ESP32_GENERIC.bin"
    path.write_bytes(micropython_bin(PLUS_4MIB))
    return path


def mount(region: bytes) -> LittleFS:
    return LittleFS(context=UserContext(buffer=bytearray(region)), block_size=4096,
                    block_count=len(region) // 4096, read_size=32, prog_size=32,
                    lookahead_size=32)


def test_merged_image_holds_base_and_app(base: Path, tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    out = tmp_path / "out.bin"
    result = build_image(base, app, out, chip="esp32", flash_size="4MB")
    merged = out.read_bytes()
    assert (result.base_offset, result.fs_offset, result.fs_size) == (0x1000, 0x200000, 0x200000)
    assert len(merged) == 4 * MB
    assert merged[0x1000:0x1000 + base.stat().st_size] == base.read_bytes()
    fs = mount(merged[0x200000:])
    assert sorted(fs.listdir("/")) == ["boot.py", "lib", "main.py"]
    assert sorted(fs.listdir("/lib")) == ["data.json", "util.mpy"]
    with fs.open("/main.py", "rb") as f:
        assert f.read() == (app / "main.py").read_bytes()
    with fs.open("/lib/util.mpy", "rb") as f:
        assert f.read()[:2] == b"M\x06"


def test_micropython_mounts_the_filesystem_and_runs_the_app(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    build_image(base, make_app(tmp_path / "app"), out)
    region = tmp_path / "vfs.bin"
    region.write_bytes(out.read_bytes()[0x200000:])
    # the unix port's VfsLfs2 over a file-backed block device, as _boot.py mounts the partition
    script = f"""
import vfs, sys
class Dev:
    def __init__(self, f):
        self.f = f
    def readblocks(self, n, buf, off=0):
        self.f.seek(n * 4096 + off)
        self.f.readinto(buf)
    def writeblocks(self, n, buf, off=0):
        self.f.seek(n * 4096 + off)
        self.f.write(buf)
    def ioctl(self, op, arg):
        if op == 4:
            return {0x200000 // 4096}
        if op == 5:
            return 4096
        return 0
vfs.mount(vfs.VfsLfs2(Dev(open({str(region)!r}, 'r+b'))), '/flash')
sys.path.insert(0, '/flash/lib')
exec(open('/flash/main.py').read())
"""
    proc = subprocess.run([sys.executable, "-m", "micropython_unix", "-c", script],
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "app says 42", proc.stdout + proc.stderr


def test_esptool_image_info_accepts_the_base_part(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    build_image(base, make_app(tmp_path / "app"), out)
    part = tmp_path / "boot-part.bin"
    part.write_bytes(out.read_bytes()[0x1000:0x8000])
    proc = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "image-info",
                           str(part)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Checksum:" in proc.stdout and "(valid)" in proc.stdout


def test_an_explicit_vfs_partition_is_used(tmp_path: Path) -> None:
    base = tmp_path / "old.bin"
    base.write_bytes(micropython_bin(OLD_4MIB))
    result = build_image(base, make_app(tmp_path / "app"), tmp_path / "out.bin",
                         flash_size="8MB")
    assert (result.fs_offset, result.fs_size) == (0x200000, 0x200000)
    assert result.fs_source == "the 'vfs' partition"


def test_the_filesystem_grows_with_the_flash(base: Path, tmp_path: Path) -> None:
    result = build_image(base, make_app(tmp_path / "app"), tmp_path / "out.bin",
                         flash_size="8MB")
    assert (result.fs_offset, result.fs_size) == (0x200000, 6 * MB)


def test_bad_inputs_are_usage_errors(base: Path, tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    bare = tmp_path / "app-only.bin"
    bare.write_bytes(esp_image(0x400D0020, 2, 64))
    with pytest.raises(UsageError, match="no partition table"):
        build_image(bare, app, tmp_path / "o.bin")
    with pytest.raises(UsageError, match="no room for a filesystem"):
        build_image(base, app, tmp_path / "o.bin", flash_size="2MB")
    with pytest.raises(UsageError, match="not an ESP firmware image"):
        build_image(app / "main.py", app, tmp_path / "o.bin")


def test_partition_table_parser_stops_at_the_md5_row() -> None:
    parts = parse_partition_table(partition_table(OLD_4MIB))
    assert [(p.label, p.offset, p.size) for p in parts] == [
        (label, off, size) for label, _, _, off, size in OLD_4MIB]


def test_cli_builds_and_says_how_to_install(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "one-shot.bin"
    proc = subprocess.run([sys.executable, "-m", "edgehook", "image", "build", "--firmware",
                           str(base), "--dir", str(make_app(tmp_path / "app")), "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "filesystem at 0x200000" in proc.stdout and "write-flash 0x0" in proc.stdout
    assert out.stat().st_size == 4 * MB


def test_an_output_that_cannot_be_written_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write") as err:
        build_image(base, make_app(tmp_path / "app"), tmp_path / "no-such-dir" / "out.bin")
    assert err.value.hint


def test_a_base_image_for_another_chip_says_which(tmp_path: Path) -> None:
    base = tmp_path / "ESP32_GENERIC.bin"
    base.write_bytes(micropython_bin(PLUS_4MIB))  # an ESP32 image (chip id 0)
    with pytest.raises(UsageError, match="for ESP32, not ESP32-S3") as err:
        build_image(base, make_app(tmp_path / "app"), tmp_path / "o.bin", chip="esp32s3")
    assert err.value.hint and "--chip esp32" in err.value.hint


def test_an_app_larger_than_the_filesystem_is_a_usage_error(base: Path, tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    (app / "lib" / "big.bin").write_bytes(os.urandom(3 * MB))  # the 4 MB board's fs: 2 MB
    with pytest.raises(UsageError, match="does not fit") as err:
        build_image(base, app, tmp_path / "o.bin")
    assert err.value.hint and "--flash-size" in err.value.hint
    assert not (tmp_path / "o.bin").exists()
