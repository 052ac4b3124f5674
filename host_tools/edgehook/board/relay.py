"""The relay of a virtual board: copies bytes between the board's pty and the client's pty.

It turns a client's Ctrl-C into KeyboardInterrupt only where the ESP32 would (outside ORP frames,
while code runs with the keyboard interrupt on), restarts MicroPython when it exits (a soft
reset) and re-enters the raw REPL after a soft reset there, as mpremote expects.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import time
from typing import TYPE_CHECKING

from edgehook.board.framing import FrameTracker

if TYPE_CHECKING:
    from edgehook.board.vboard import VirtualBoard

log = logging.getLogger(__name__)

SOFT_REBOOT = b"MPY: soft reboot\r\n"
RAW_BANNER = b"raw REPL; CTRL-B to exit"
READY = b"\x00edgehook-vboard-ready\x00"  # printed after boot.py when restarting into raw REPL
_PENDING_TO_BOARD = 64 * 1024      # stop reading the client beyond this (flow control)
_PENDING_TO_CLIENT = 1024 * 1024   # a client that reads nothing loses the oldest bytes beyond this
_INTERRUPT_HOLD = 1.0              # s: client bytes wait this long at most for the prompt after SIGINT
_RAW_BOOT_TIMEOUT = 10.0
_BOOT_LOOP = (20, 5.0)             # this many exits within this many seconds: a boot loop
_BOOT_LOOP_PAUSE = 1.0             # s to wait before each restart while it loops


def _sigint_caught(pid: int) -> bool:
    """True when process `pid` has a SIGINT handler installed (MicroPython is running code)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        pass
    return False


class Relay:
    """The select loop of one VirtualBoard: copies bytes, watches modes, restarts MicroPython."""

    def __init__(self, board: VirtualBoard) -> None:
        self.board = board
        self.tracker = FrameTracker()
        self.to_board = bytearray()
        self.to_client = bytearray()
        self.tail = b""
        self.raw = False
        self.hold_until = 0.0          # while > now, client bytes wait (a SIGINT is outstanding)
        self.raw_boot: bytearray | None = None   # output of a raw-mode restart, until its banner
        self.raw_boot_deadline = 0.0
        self.hard_restart = False
        self.exits: list[float] = []   # recent exit times, to slow down a boot loop

    def run(self) -> None:
        b = self.board
        try:
            while not b._stopping:
                self._step()
        except Exception:  # a bug here must not leave a silent, dead board behind
            log.exception("virtual board relay failed")
            b._note("relay failed (see log)")
        finally:
            b._stopping = True
            b._kill_child()
            b._note("stopped")

    def _step(self) -> None:
        b = self.board
        now = time.monotonic()
        holding = self.hold_until > now or self.raw_boot is not None
        mask_a = select.POLLIN | (select.POLLOUT if self.to_board and not holding else 0)
        mask_b = (select.POLLIN if len(self.to_board) < _PENDING_TO_BOARD else 0) | (
            select.POLLOUT if self.to_client else 0)
        poller = select.poll()
        poller.register(b._master_a, mask_a)
        poller.register(b._master_b, mask_b)
        poller.register(b._wake_r, select.POLLIN)
        if b._pidfd >= 0:
            poller.register(b._pidfd, select.POLLIN)  # readable when MicroPython exits
        events = dict(poller.poll(50 if holding else 500))
        if b._wake_r in events:
            os.read(b._wake_r, 1024)
            self._handle_requests()
        if events.get(b._master_a, 0) & select.POLLIN:
            self._from_board(self._read(b._master_a))
        if events.get(b._master_b, 0) & select.POLLIN:
            self._from_client(self._read(b._master_b))
        if self.to_board and not holding:
            self._write(b._master_a, self.to_board)
        if self.to_client:
            self._write(b._master_b, self.to_client)
        if self.raw_boot is not None and time.monotonic() > self.raw_boot_deadline:
            b._note("raw REPL did not come back after soft reboot")
            self._end_raw_boot(b"")
        if b._child is not None and b._child.poll() is not None:
            self._child_exited()

    @staticmethod
    def _read(fd: int) -> bytes:
        try:
            return os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # EIO: no process holds the other side right now
            return b""

    @staticmethod
    def _write(fd: int, buf: bytearray) -> None:
        try:
            n = os.write(fd, buf)
        except (BlockingIOError, InterruptedError):
            return
        del buf[:n]

    def _handle_requests(self) -> None:
        b = self.board
        for what in b._take_requests():
            if what == "stop":
                b._stopping = True
            elif what == "restart" and b._child is not None:
                self.hard_restart = True
                b._child.kill()

    # ---- board -> client ---------------------------------------------------------------------

    def _from_board(self, data: bytes) -> None:
        if not data:
            return
        if self.raw_boot is not None:
            self._raw_boot_output(data)
            return
        self._to_client(data)
        self.tail = (self.tail + data)[-64:]
        raw_at = self.tail.rfind(RAW_BANNER)
        friendly_at = self.tail.rfind(b">>> ")
        if raw_at >= 0 or friendly_at >= 0:
            self.raw = raw_at > friendly_at
        if self.hold_until and self.tail.endswith((b">", b"> ")):
            self.hold_until = 0.0  # the prompt is up: the REPL has flushed its input, send the rest

    def _to_client(self, data: bytes) -> None:
        self.to_client += data
        excess = len(self.to_client) - _PENDING_TO_CLIENT
        if excess > 0:  # nobody reads the port: a UART would lose these bytes too; count them
            del self.to_client[:excess]
            if self.board.dropped_to_client == 0:
                self.board._note("client is not reading: dropping the oldest board output")
            self.board.dropped_to_client += excess

    def _raw_boot_output(self, data: bytes) -> None:
        """After a soft reset in the raw REPL: pass boot.py's output, hide the unix banner."""
        assert self.raw_boot is not None
        self.raw_boot += data
        at = self.raw_boot.find(READY)
        if at < 0:
            keep = len(READY) - 1  # the marker may be cut between two reads
            if len(self.raw_boot) > keep:
                self._to_client(bytes(self.raw_boot[:-keep]))
                del self.raw_boot[:-keep]
            return
        if at > 0:
            self._to_client(bytes(self.raw_boot[:at]))
            del self.raw_boot[:at]
        if b">>> " in self.raw_boot:
            self._end_raw_boot(b"\x01")

    def _end_raw_boot(self, send: bytes) -> None:
        self.raw_boot = None
        self.tail = b""
        if send:
            self.to_board[:0] = send  # ahead of anything the client queued meanwhile

    # ---- client -> board ---------------------------------------------------------------------

    def _from_client(self, data: bytes) -> None:
        if not data:
            return
        now = time.monotonic()
        start = 0
        for i in self.tracker.feed(data, now):
            if self._interrupt(now):
                self.to_board += data[start:i]
                start = i + 1  # the ESP32 consumes the Ctrl-C that raises KeyboardInterrupt
        self.to_board += data[start:]

    def _interrupt(self, now: float) -> bool:
        """Raise KeyboardInterrupt in running code, as the ESP32 REPL does for a Ctrl-C byte."""
        b = self.board
        child = b._child
        if child is None or self.hold_until > now or self.raw_boot is not None:
            return False  # one outstanding SIGINT at a time: a second one makes the unix port exit
        if not _sigint_caught(child.pid):
            return False  # at a prompt, or kbd_intr(-1): the byte is data, as on the ESP32
        os.kill(child.pid, signal.SIGINT)
        self.hold_until = now + _INTERRUPT_HOLD
        b._note("ctrl-c -> KeyboardInterrupt")
        return True

    # ---- soft reset --------------------------------------------------------------------------

    def _child_exited(self) -> None:
        b = self.board
        assert b._child is not None
        rc = b._child.wait()
        while True:  # what it printed last still belongs to the client
            data = self._read(b._master_a)
            if not data:
                break
            self._from_board(data)
        b._child = None
        self.hold_until = 0.0
        if b._stopping:
            return
        if self.hard_restart:
            self.hard_restart, self.raw = False, False
            b._note(f"hard reset (rc={rc})")
        else:
            b._note(f"child exited rc={rc} raw={self.raw} -> soft reboot")
            self._to_client(SOFT_REBOOT)
        self._slow_down_a_boot_loop()
        b._spawn(raw=self.raw)
        if self.raw:
            self.raw_boot = bytearray()
            self.raw_boot_deadline = time.monotonic() + _RAW_BOOT_TIMEOUT
        self.tail = b""

    def _slow_down_a_boot_loop(self) -> None:
        """A firmware that exits at every boot (sys.exit in boot.py) must not eat a core."""
        now = time.monotonic()
        count, window = _BOOT_LOOP
        self.exits = [t for t in self.exits if now - t < window] + [now]
        if len(self.exits) >= count:
            if len(self.exits) == count:
                self.board._note(f"boot loop: {count} restarts in {window:.0f} s; "
                                 f"restarting every {_BOOT_LOOP_PAUSE:.0f} s")
            time.sleep(_BOOT_LOOP_PAUSE)
