"""`edgehook flash` through real esptool code against a stand-in ESP32 ROM on socket://."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from esptool.bin_image import ELFSection, ESP32S3FirmwareImage
from esptool.util import FatalError

from edgehook.board.flash import _device_error, flash_firmware, image_offset
from edgehook.errors import DeviceError, UsageError
from tests.board.fake_rom import JEDEC_2MB, FakeEspRom

FLASH_DEFL_DATA, FLASH_DATA, ERASE_FLASH = 0x11, 0x03, 0xD0


@pytest.fixture
def rom():
    with FakeEspRom() as fake:
        yield fake


def write_image(path: Path, body: bytes) -> Path:
    path.write_bytes(b"\xe9" + body)
    return path


def test_image_lands_at_the_chips_offset_compressed(rom: FakeEspRom, tmp_path: Path) -> None:
    fw = write_image(tmp_path / "fw.bin", bytes(range(256)) * 2000)  # compresses well
    seen: list[tuple[int, int]] = []
    result = flash_firmware(rom.url, fw, progress=lambda d, t, w: seen.append((d, t)),
                            reset=False)
    data = fw.read_bytes()
    assert (result.chip, result.offset, result.flash_size) == ("ESP32", 0x1000, "4MB")
    assert rom.flash[0x1000:0x1000 + len(data)] == data
    assert rom.flash[:0x1000] == b"\xff" * 0x1000
    assert FLASH_DEFL_DATA in rom.commands  # the stub's deflate path
    assert seen and seen[-1][0] == seen[-1][1]


def test_incompressible_image_goes_uncompressed(rom: FakeEspRom, tmp_path: Path) -> None:
    fw = write_image(tmp_path / "fw.bin", os.urandom(100_000))
    flash_firmware(rom.url, fw, chip="esp32", reset=False)
    data = fw.read_bytes()
    assert rom.flash[0x1000:0x1000 + len(data)] == data
    assert FLASH_DATA in rom.commands


def test_erase_clears_what_was_there(rom: FakeEspRom, tmp_path: Path) -> None:
    rom.flash[0x300000:0x300010] = b"old app file...."
    flash_firmware(rom.url, write_image(tmp_path / "fw.bin", b"\0" * 1000), erase=True,
                   reset=False)
    assert ERASE_FLASH in rom.commands
    assert rom.flash[0x300000:0x300010] == b"\xff" * 16


def test_cli_flashes_and_reports(rom: FakeEspRom, tmp_path: Path) -> None:
    fw = write_image(tmp_path / "fw.bin", b"micropython" * 5000)
    proc = subprocess.run([sys.executable, "-m", "edgehook", "flash", "--port", rom.url,
                           "--firmware", str(fw), "--baud", "115200"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {len(fw.read_bytes())} bytes at 0x1000 on ESP32" in proc.stdout
    assert rom.flash[0x1000:0x1000 + 11] == b"\xe9micropytho"


def test_no_answer_is_one_line_with_the_boot_button_hint(tmp_path: Path) -> None:
    with FakeEspRom(silent=True) as rom, pytest.raises(DeviceError) as err:
        flash_firmware(rom.url, write_image(tmp_path / "fw.bin", b"x"), connect_attempts=1)
    assert "no answer from the ESP32 bootloader" in err.value.message
    assert err.value.hint and "hold BOOT" in err.value.hint and "lower --baud" in err.value.hint


def test_wrong_chip_says_which(rom: FakeEspRom, tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="the board is ESP32, not ESP32-S3") as err:
        flash_firmware(rom.url, write_image(tmp_path / "fw.bin", b"x"), chip="esp32s3",
                       connect_attempts=1)
    assert err.value.hint and "--chip esp32" in err.value.hint


def test_image_larger_than_the_flash_says_so(tmp_path: Path) -> None:
    fw = write_image(tmp_path / "fw.bin", b"\0" * (2 << 20))
    with FakeEspRom(jedec=JEDEC_2MB) as rom, pytest.raises(UsageError) as err:
        flash_firmware(rom.url, fw, reset=False)
    assert "larger than the board's 2 MB flash" in err.value.message
    assert rom.flash[0x1000:0x1010] == b"\xff" * 16  # nothing written


def test_cli_unreachable_port_exits_2_with_a_hint(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "edgehook", "flash", "--port",
                           "socket://127.0.0.1:1", "--firmware",
                           str(write_image(tmp_path / "fw.bin", b"x"))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "edgehook: cannot open socket://127.0.0.1:1" in proc.stderr and "hint:" in proc.stderr


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UsageError, match="not an ESP firmware image"):
        flash_firmware("socket://127.0.0.1:1", tmp_path / "notes.txt")


def test_permission_denied_names_the_serial_group() -> None:
    # the message esptool's loader raises when open() fails with EACCES (root here cannot see it)
    exc = FatalError("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.\n"
                     "([Errno 13] could not open port /dev/ttyUSB0: [Errno 13] Permission denied)")
    err = _device_error(exc, "/dev/ttyUSB0", "auto")
    assert err.message == "permission denied opening /dev/ttyUSB0"
    assert err.hint and "dialout" in err.hint


def test_an_image_for_a_newer_chip_revision_names_no_missing_option() -> None:
    exc = FatalError("'fw.bin' requires chip revision 3 or higher (this chip is revision 1). "
                     "Use --force to flash anyway.")
    err = _device_error(exc, "/dev/ttyUSB0", "auto")
    assert isinstance(err, UsageError) and "--force" not in err.message
    assert err.message == "'fw.bin' requires chip revision 3 or higher (this chip is revision 1)"
    assert err.hint and "revision" in err.hint


def test_offsets_per_chip_family() -> None:
    assert image_offset("esp32") == image_offset("esp32s2") == 0x1000
    assert image_offset("esp32s3") == image_offset("esp32c3") == image_offset("esp32c6") == 0
    assert image_offset("esp32p4") == 0x2000
    with pytest.raises(UsageError):
        image_offset("esp99")


def test_the_clis_chip_list_is_esptools() -> None:
    from esptool.targets import CHIP_DEFS

    from edgehook.cli.flash import CHIPS
    assert set(CHIPS) - {"auto"} <= set(CHIP_DEFS)


def test_an_image_for_another_chip_is_one_line_naming_both(rom: FakeEspRom, tmp_path: Path) -> None:
    img = ESP32S3FirmwareImage()
    img.entrypoint = 0x40380000
    img.segments = [ELFSection(b".iram0.text", 0x40380000, b"\x01" * 64, 0)]
    img.flash_mode, img.flash_size_freq = 2, 0x20
    img.save(str(tmp_path / "s3.bin"))
    with pytest.raises(UsageError) as err:
        flash_firmware(rom.url, tmp_path / "s3.bin", reset=False)
    assert err.value.message == f"{tmp_path / 's3.bin'} is MicroPython for ESP32-S3; the board is ESP32"
    assert err.value.hint and "--force" not in err.value.hint
    assert rom.flash[0x1000:0x1010] == b"\xff" * 16  # nothing written


@pytest.mark.parametrize("baud", ["-5", "0", "99999999999"])
def test_a_baud_rate_out_of_range_is_a_usage_error(tmp_path: Path, baud: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "edgehook", "flash", "--port",
                           "socket://127.0.0.1:1", "--baud", baud, "--firmware",
                           str(write_image(tmp_path / "fw.bin", b"x"))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("edgehook: ") and "--baud" in proc.stderr


def test_an_error_is_the_first_line_of_stderr_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "edgehook", "flash", "--port",
                           "socket://127.0.0.1:1", "--firmware",
                           str(write_image(tmp_path / "fw.bin", b"x"))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("edgehook: cannot open socket://127.0.0.1:1"), proc.stderr


def test_a_merged_image_goes_at_zero_and_without_offset_zero_the_hint_says_so(
        rom: FakeEspRom, tmp_path: Path) -> None:
    from edgehook.board.image import build_image
    from tests.board.test_deploy import make_app
    from tests.board.test_image import PLUS_4MIB, micropython_bin

    base = tmp_path / "ESP32_GENERIC.bin"
    base.write_bytes(micropython_bin(PLUS_4MIB))
    merged = tmp_path / "one-shot.bin"
    build_image(base, make_app(tmp_path / "app"), merged)
    with pytest.raises(UsageError) as err:
        flash_firmware(rom.url, merged, reset=False)
    assert "image build" in err.value.message
    assert err.value.hint and "--offset-zero" in err.value.hint
    result = flash_firmware(rom.url, merged, reset=False, offset=0)
    data = merged.read_bytes()
    assert result.offset == 0 and bytes(rom.flash[:len(data)]) == data
