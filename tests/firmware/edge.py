"""A scripted Octave edge for the firmware tests: the edge's side of ORP v2 over a serial port,
built on the host codec, with switches for silence and for the status it answers."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import serial

from edgehook.board.vboard import make_board_dir
from edgehook.orp import Deframer, OrpError, Packet, parse

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
# The 64-bit unix port needs about twice an ESP32's heap for the same objects; the firmware's
# measured minimum is in docs/firmware.md ("Memory").
HEAP = "96k"
REQUESTS = "IOSHKPDGER"

Answer = Callable[[Packet], "str | None"]


def compiled_board(dest: Path) -> Path:
    """A board folder holding the firmware as a deploy puts it: lib/*.py compiled to .mpy."""
    return make_board_dir(dest, FIRMWARE, mpy=True)


class PtyBoard:
    """The firmware on a bare pty with no relay: every byte the edge sends reaches it as data,
    as on an ESP32 whose app owns the console (the firmware's own Ctrl-C rule is what acts)."""

    def __init__(self, board_dir: Path, heap: str = HEAP, seed: int = 1) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(self.master)
        tty.setraw(slave)
        code = ("import os, sys\nsys.path[:] = ['', '.frozen', 'lib']\n"
                "execfile('boot.py')\nexecfile('main.py')\n")
        env = dict(os.environ, EDGEHOOK_SEED=str(seed), MICROPYPATH="lib:.frozen")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys, micropython_run; "
             "sys.exit(micropython_run.run_main(['micropython'] + sys.argv[1:]))",
             "-X", f"heapsize={heap}", "-i", "-c", code],
            stdin=slave, stdout=slave, stderr=slave, cwd=board_dir, env=env)
        os.close(slave)

    # the serial-port subset Edge uses
    @property
    def in_waiting(self) -> int:
        return 4096 if select.select([self.master], [], [], 0)[0] else 0

    def read(self, n: int) -> bytes:
        if not select.select([self.master], [], [], 0.02)[0]:
            return b""
        try:
            return os.read(self.master, n)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=3)
        os.close(self.master)


@dataclass
class Resource:
    kind: str
    dtype: str
    units: str | None
    handler: bool = False


@dataclass
class Edge:
    """Reads the port in a thread; answers every request with `answer(pkt)` (default OK;
    None = stay silent) and keeps what it saw."""

    port: str | PtyBoard
    answer: Answer | None = None
    packets: list[Packet] = field(default_factory=list)
    resources: dict[str, Resource] = field(default_factory=dict)
    pushes: list[Packet] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    bad: int = 0
    seq: int = 0x0300  # our sequence numbers carry a 0x03 byte: the firmware must take it as data

    def __post_init__(self) -> None:
        self.ser = (serial.Serial(self.port, 115200, timeout=0.02) if isinstance(self.port, str)
                    else self.port)
        self.dfr = Deframer()
        self.cond = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        if isinstance(self.port, str):
            self.ser.close()

    # ---- what the edge sends -----------------------------------------------------------------

    def send(self, pkt: Packet) -> None:
        self.ser.write(pkt.frame())

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def sync(self, timestamp: float | None = None, timeout: float = 5.0) -> Packet:
        """Send a SYNC, again each second until answered as an Octave edge does (a board that is
        still booting may miss one), and return the board's `y`."""
        seq = self.next_seq()
        mark = self.mark()
        deadline = time.monotonic() + timeout
        while True:
            self.send(Packet("Y", "1", seq, timestamp=timestamp if timestamp is not None else time.time(),
                             sent=0, received=0))
            left = deadline - time.monotonic()
            try:
                return self.wait(lambda p: p.type == "y" and p.seq == seq, min(1.0, max(left, 0.0)),
                                 "y to SYNC", mark)
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise

    def call(self, path: str, data: bytes | None, dtype: str = "N", timeout: float = 5.0) -> Packet:
        """A handler call `c` on an output; returns the board's `C`."""
        seq = self.next_seq()
        mark = self.mark()
        self.send(Packet("c", dtype, seq, path=path, timestamp=time.time(), data=data))
        return self.wait(lambda p: p.type == "C" and p.seq == seq, timeout, f"C for {path}", mark)

    # ---- what the edge sees ------------------------------------------------------------------

    def wait(self, pred: Callable[[Packet], bool], timeout: float = 5.0, what: str = "packet",
             start: int = 0) -> Packet:
        """The first packet from index `start` on that matches; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for pkt in self.packets[start:]:
                    if pred(pkt):
                        return pkt
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = [p.to_json() for p in self.packets[-5:]]
                    raise AssertionError(f"no {what} within {timeout} s; last packets {tail}; "
                                         f"raw tail {bytes(self.raw[-300:])!r}")
                self.cond.wait(left)

    def wait_until(self, cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s; raw tail {bytes(self.raw[-300:])!r}")
                self.cond.wait(left)

    def values(self, path: str, start: int = 0) -> list[Packet]:
        """Acknowledged pushes to `path`, from push index `start` (see `push_mark`) on."""
        with self.cond:
            return [p for p in self.pushes[start:] if p.path == path]

    def mark(self) -> int:
        """Index of the next packet to arrive (for `wait(start=...)`)."""
        with self.cond:
            return len(self.packets)

    def push_mark(self) -> int:
        """Index of the next acknowledged push (for `values(start=...)`)."""
        with self.cond:
            return len(self.pushes)

    def _read(self) -> None:
        while self.running:
            try:
                chunk = self.ser.read(max(1, self.ser.in_waiting))
            except (serial.SerialException, OSError):
                return
            if not chunk:
                continue
            with self.cond:
                self.raw += chunk
                for payload in self.dfr.feed(chunk):
                    try:
                        pkt = parse(payload)
                    except OrpError:
                        self.bad += 1
                        continue
                    self.packets.append(pkt)
                    self._handle(pkt)
                self.cond.notify_all()

    def _handle(self, pkt: Packet) -> None:
        if pkt.type not in REQUESTS:
            return
        status = self.answer(pkt) if self.answer else "@"
        if status is None:
            return
        if status == "@" and pkt.path is not None:
            if pkt.type in "IOS":
                self.resources[pkt.path] = Resource(pkt.type, pkt.flag, pkt.units)
            elif pkt.type == "H" and pkt.path in self.resources:
                self.resources[pkt.path].handler = True
            elif pkt.type == "P":
                self.pushes.append(pkt)
        self.send(Packet(pkt.type.lower(), status, pkt.seq))
