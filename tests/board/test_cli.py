"""`edgehook board start` as a user runs it: port on the first line, link, clean stop on signals."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.board.conftest import mpremote, write_app
from tests.board.test_deploy import sync_answer


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_board_start_prints_the_port_and_stops_everything(tmp_path: Path, signum: int) -> None:
    flash = write_app(tmp_path / "flash")
    link = tmp_path / "board.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgehook", "board", "start", "--dir", str(flash),
         "--link", str(link), "--seed", "5", "--heap", "64k"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        assert os.readlink(link) == port
        assert mpremote(str(link), "exec", "print('via link')").strip() == "via link"
        started = descendants(proc.pid)
        assert started, "the board runs MicroPython as a child process"
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in started):
        assert time.monotonic() < deadline, f"left behind: {[p for p in started if alive(p)]}"
        time.sleep(0.05)
    assert not link.exists()


def test_board_start_makes_a_working_copy_of_a_firmware_tree(tmp_path: Path) -> None:
    firmware = write_app(tmp_path / "fw")
    flash = tmp_path / "new-board"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgehook", "board", "start", "--dir", str(flash),
         "--firmware", str(firmware)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert mpremote(port, "exec", "print(open('boot.py').read())").strip() == "print('boot ran')"
        assert (flash / "main.py").read_text() == (firmware / "main.py").read_text()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_board_start_rejects_a_bad_heap(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edgehook", "board", "start", "--dir", str(write_app(tmp_path)),
         "--heap", "huge"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1
    assert "bad heap size" in proc.stderr and "hint:" in proc.stderr


def test_board_start_with_its_defaults_runs_the_real_firmware(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "edgehook", "board", "start"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert sync_answer(port, timeout=20).type == "y"  # the firmware's first SYNC answer
        flash = {Path(os.readlink(f"/proc/{pid}/cwd")) for pid in descendants(proc.pid)}
        assert len(flash) == 1 and (flash_dir := flash.pop()).name == "flash"
        assert (flash_dir / "lib" / "client.py").exists()
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        assert not flash_dir.exists(), "the temporary board folder is removed on exit"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_board_start_refuses_a_firmware_tree_it_would_not_copy(tmp_path: Path) -> None:
    flash = write_app(tmp_path / "flash")
    proc = subprocess.run(
        [sys.executable, "-m", "edgehook", "board", "start", "--dir", str(flash),
         "--firmware", str(write_app(tmp_path / "fw"))], capture_output=True, text=True,
        timeout=20)
    assert proc.returncode == 1
    assert proc.stderr.startswith("edgehook: ") and "--firmware" in proc.stderr
    assert "hint:" in proc.stderr


def test_sigterm_stops_the_board_while_nobody_reads_its_stderr(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe
    os.set_blocking(write_end, False)
    try:
        while True:  # fill it: the board's first event line will block
            os.write(write_end, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgehook", "board", "start", "--dir",
         str(write_app(tmp_path / "flash"))], stdout=subprocess.PIPE, stderr=write_end, text=True)
    os.close(write_end)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("/dev/pts/")
        time.sleep(0.5)  # the CLI is now writing its first event into the full pipe
        started = descendants(proc.pid)
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(read_end)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in started):
        assert time.monotonic() < deadline, f"left behind: {[p for p in started if alive(p)]}"
        time.sleep(0.05)
