"""A small test app for the virtual board: boot.py, and a main.py that reads ORP-like frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BOOT = "print('boot ran')\n"

# Counts its runs in runs.txt, then reads stdin byte by byte: a frame between 0x7E flags is
# reported with its length and its count of 0x03 bytes; a 0x03 outside a frame is reported as
# data (it arrives only when the keyboard interrupt is off, i.e. a file `kbd_off` exists).
MAIN = """\
import os, sys, select, micropython
with open('runs.txt', 'a') as f:
    f.write('main\\n')
run = open('runs.txt').read().count('main')
try:
    os.stat('kbd_off')
    micropython.kbd_intr(-1)
except OSError:
    pass
p = select.poll()
p.register(sys.stdin, select.POLLIN)
frame = None
ctrl = 0
print('reader ready', os.getenv('EDGEHOOK_SEED'), 'run', run)
while True:
    if not p.poll(1000):
        continue
    c = sys.stdin.buffer.read(1)[0]
    if c == 0x7E:
        if frame:
            print('frame', len(frame), frame.count(b'\\x03'))
            frame = None
        else:
            frame = bytearray()
    elif frame is not None:
        frame.append(c)
    elif c == 3:
        ctrl += 1
        print('ctrl-c as data', ctrl)
"""


def write_app(dest: Path, kbd_off: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "boot.py").write_text(BOOT)
    (dest / "main.py").write_text(MAIN)
    if kbd_off:
        (dest / "kbd_off").write_text("")
    return dest


def runs(board_dir: Path) -> int:
    path = board_dir / "runs.txt"
    return path.read_text().count("main") if path.exists() else 0


def mpremote(port: str, *args: str, timeout: float = 20.0) -> str:
    """Run the real mpremote command against `port`; return stdout, fail with its stderr."""
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"mpremote {args} failed: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path / "flash")
