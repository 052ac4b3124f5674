"""The virtual board through its pty: boot semantics, Ctrl-C versus framed 0x03, mpremote, resets."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import serial

from edgehook.board.vboard import VirtualBoard, make_board_dir
from edgehook.errors import UsageError
from tests.board.conftest import mpremote, runs, write_app
from tests.fixtures.vboard import read_until


def open_fresh(vb: VirtualBoard) -> tuple[serial.Serial, bytes]:
    """Open the port, hard-reset the board (pyserial flushes what arrived before it opened) and
    read until the app's second run is ready; return the port and what was read."""
    wait_for(lambda: runs(vb.board_dir) >= 1, what="the first run of main.py")
    ser = serial.Serial(vb.port)
    vb.restart()
    return ser, read_until(ser, b" run 2\n")


def wait_for(condition, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def test_boot_then_main_run_at_start_with_seed(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir, seed=7)
    ser, out = open_fresh(vb)
    ser.close()
    assert b"reader ready 7 run 2" in out
    assert out.rindex(b"boot ran") < out.rindex(b"reader ready")
    assert runs(app_dir) == 2


def test_frame_full_of_ctrl_c_reaches_the_app_as_data(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir)
    ser, _ = open_fresh(vb)
    with ser:
        pid = vb.pid
        ser.write(b"\x7e" + b"\x03" * 500 + b"\x7e")
        read_until(ser, b"frame 500 500\n")
        ser.write(b"\x7e\x01\x03\x7e\x7e\x03\x03\x03\x7e")  # two frames back to back
        read_until(ser, b"frame 3 3\n")
    assert vb.pid == pid
    assert not any("ctrl-c" in entry for entry in vb.log)


def test_ctrl_c_outside_a_frame_interrupts_running_code(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir)
    ser, _ = open_fresh(vb)
    with ser:
        pid = vb.pid
        ser.write(b"\x03")
        out = read_until(ser, b">>> ")
        assert b"KeyboardInterrupt" in out
        assert b"ctrl-c as data" not in out
        ser.write(b"print(6 * 7)\r")
        read_until(ser, b"42")
    assert vb.pid == pid  # interrupted, not killed
    vb.wait_log("ctrl-c -> KeyboardInterrupt")


def test_ctrl_c_with_keyboard_interrupt_off_is_data(vboard_factory, tmp_path: Path) -> None:
    vb = vboard_factory(write_app(tmp_path / "flash", kbd_off=True))
    ser, _ = open_fresh(vb)
    with ser:
        pid = vb.pid
        ser.write(b"\x03")
        read_until(ser, b"ctrl-c as data 1\n")
        ser.write(b"\x7e\x03\x7e")
        read_until(ser, b"frame 1 1\n")
    assert vb.pid == pid


def test_mpremote_exec_interrupts_a_running_main(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir)
    ser, _ = open_fresh(vb)
    ser.close()
    assert mpremote(vb.port, "exec", "print(6 * 7)").strip() == "42"
    # mpremote's soft reset happened in the raw REPL: boot.py ran again, main.py did not
    vb.wait_log("raw=True -> soft reboot")
    assert runs(app_dir) == 2  # the start and the hard reset of open_fresh


def test_mpremote_files_land_in_the_board_folder(vboard_factory, app_dir: Path,
                                                 tmp_path: Path) -> None:
    vb = vboard_factory(app_dir)
    src = tmp_path / "hello.py"
    src.write_text("MSG = 'hello from flash'\n")
    mpremote(vb.port, "fs", "mkdir", ":lib", "+", "fs", "cp", str(src), ":lib/hello.py")
    assert (app_dir / "lib" / "hello.py").read_text() == src.read_text()
    listing = mpremote(vb.port, "fs", "ls", ":/")
    assert "boot.py" in listing and "lib/" in listing
    assert "etc/" not in listing and "proc/" not in listing  # `/` is the board folder
    out = mpremote(vb.port, "exec", "import hello, sys; print(hello.MSG, sys.path)")
    assert "hello from flash" in out and "'/lib'" in out
    mpremote(vb.port, "fs", "rm", ":lib/hello.py")
    assert not (app_dir / "lib" / "hello.py").exists()


def test_soft_reset_at_the_repl_runs_boot_and_main(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir)
    ser, _ = open_fresh(vb)
    with ser:
        ser.write(b"\x03")
        read_until(ser, b">>> ")
        ser.write(b"\x04")
        out = read_until(ser, b"reader ready")
    assert b"MPY: soft reboot\r\n" in out
    assert out.index(b"soft reboot") < out.index(b"boot ran") < out.index(b"reader ready")
    assert runs(app_dir) == 3


def test_mpremote_soft_reset_keeps_main_off(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir)
    wait_for(lambda: runs(app_dir) == 1, what="the first run of main.py")
    mpremote(vb.port, "soft-reset", "+", "exec", "print('still raw')")
    assert runs(app_dir) == 1
    with serial.Serial(vb.port) as ser:  # mpremote left the raw REPL: the friendly one answers
        ser.write(b"\r")
        read_until(ser, b">>> ")


@pytest.mark.parametrize("heap,low,high", [("48k", 40, 48), ("48wk", 90, 96)])
def test_heap_size_is_the_targets(vboard_factory, app_dir: Path, heap: str, low: int,
                                  high: int) -> None:
    vb = vboard_factory(app_dir, heap=heap)
    total = int(mpremote(vb.port, "exec", "import gc; print(gc.mem_free() + gc.mem_alloc())"))
    assert low * 1024 < total <= high * 1024


def test_restart_is_a_hard_reset(vboard_factory, app_dir: Path) -> None:
    vb = vboard_factory(app_dir)
    wait_for(lambda: runs(app_dir) == 1, what="first run")
    pid = vb.pid
    vb.restart()
    wait_for(lambda: runs(app_dir) == 2, what="run after restart")
    assert vb.pid not in (None, pid)
    vb.wait_log("hard reset")


def test_stop_leaves_no_process_and_removes_the_link(app_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "board.port"
    vb = VirtualBoard(app_dir, link=link).start()
    assert os.readlink(link) == vb.port
    pid = vb.pid
    assert pid is not None
    vb.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert not link.exists()
    assert not vb.alive
    vb.stop()  # twice is fine


def test_the_link_replaces_only_a_symlink(vboard_factory, app_dir: Path, tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    with pytest.raises(UsageError, match="is not a symlink") as err:
        VirtualBoard(app_dir, link=precious).start()
    assert err.value.hint and precious.read_text() == "keep me"
    with pytest.raises(UsageError, match="no folder") as err:
        VirtualBoard(app_dir, link=tmp_path / "missing" / "board.port").start()
    stale = tmp_path / "board.port"
    stale.symlink_to("/dev/pts/nothing")  # left by a board that was killed
    vb = vboard_factory(app_dir, link=stale)
    assert os.readlink(stale) == vb.port


def test_a_board_removes_only_its_own_link(vboard_factory, tmp_path: Path) -> None:
    link = tmp_path / "board.port"
    first = vboard_factory(write_app(tmp_path / "one"), link=link)
    second = vboard_factory(write_app(tmp_path / "two"), link=link)  # takes the link over
    first.stop()
    assert os.readlink(link) == second.port


def test_output_nobody_reads_is_dropped_and_counted(vboard_factory, tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(
        "import sys\nline = b'x' * 1023 + b'\\n'\n"
        "for i in range(3000):\n    sys.stdout.buffer.write(line)\n"
        "open('done', 'w').close()\n")
    vb = vboard_factory(flash)
    wait_for(lambda: (flash / "done").exists(), timeout=20, what="main.py finished")
    vb.wait_log("dropping the oldest board output")
    assert vb.dropped_to_client > 0


def test_config_is_written_before_boot(vboard_factory, app_dir: Path) -> None:
    vboard_factory(app_dir, config={"period": 2})
    assert (app_dir / "config.json").read_text() == '{"period": 2}'


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="heap"):
        VirtualBoard(tmp_path, heap="lots")
    for heap in ("0", "2k", "99999M", "2000wM"):  # MicroPython would fail at every start
        with pytest.raises(UsageError, match="out of range"):
            VirtualBoard(tmp_path, heap=heap)
    assert VirtualBoard(tmp_path, heap="8k").heap == "8k"
    assert VirtualBoard(tmp_path, heap="512wM").heap == "512wM"
    with pytest.raises(UsageError, match="does not exist"):
        VirtualBoard(tmp_path / "missing")
    with pytest.raises(UsageError, match="no firmware tree"):
        make_board_dir(tmp_path / "x", tmp_path / "nothing")
    with pytest.raises(UsageError, match="cannot make the board folder") as err:
        make_board_dir(Path("/proc/edgehook-board"), write_app(tmp_path / "fw"))
    assert err.value.hint


def test_rename_with_a_relative_path_works(vboard_factory, app_dir: Path) -> None:
    # VfsPosix with a root builds both absolute paths of rename() in one buffer (docs/board.md)
    vb = vboard_factory(app_dir)
    (app_dir / "lib").mkdir()
    (app_dir / "lib" / "a.txt").write_text("settings")
    out = mpremote(vb.port, "exec",
                   "import os\nos.rename('/lib/a.txt', 'lib/b.txt')\nos.chdir('/lib')\n"
                   "os.rename('b.txt', 'c.txt')\nos.chdir('/')\nos.rename('lib/c.txt', '/d.txt')\n"
                   "print(open('d.txt').read())")
    assert out.strip() == "settings"
    assert (app_dir / "d.txt").read_text() == "settings"
    assert not any((app_dir / "lib").iterdir())


def test_a_boot_loop_is_slowed_down_and_logged(vboard_factory, tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text("import sys\nsys.exit()\n")  # every boot is a soft reset
    vb = vboard_factory(flash)
    vb.wait_log("boot loop", timeout=15)
    count = sum("soft reboot" in entry for entry in vb.log)
    time.sleep(1.5)  # one restart a second from now on: load can only make it fewer
    assert sum("soft reboot" in entry for entry in vb.log) - count <= 3


def test_machine_soft_reset_in_main_reboots_the_board(vboard_factory, tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text(
        "import machine\nf = open('runs.txt', 'a')\nf.write('main\\n')\nf.close()\n"
        "if open('runs.txt').read().count('main') < 3:\n    machine.soft_reset()\n")
    vb = vboard_factory(flash)
    wait_for(lambda: runs(flash) == 3, what="three boots")
    vb.wait_log("-> soft reboot")
    assert sum("soft reboot" in entry for entry in vb.log) == 2


def test_a_compiled_board_dir_holds_the_app_as_a_deploy_leaves_it(tmp_path: Path) -> None:
    board = make_board_dir(tmp_path / "flash", mpy=True)
    assert (board / "main.py").is_file() and (board / "boot.py").is_file()
    libs = {p.name for p in (board / "lib").iterdir()}
    assert "orp.mpy" in libs and "orp.py" not in libs
    assert (board / "lib" / "orp.mpy").read_bytes()[:2] == b"M\x06"  # .mpy v6
    assert not (board / "mypy.ini").exists()  # tool files stay behind
