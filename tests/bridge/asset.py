"""A scripted ORP asset on a real pseudo-terminal: the test's side of the bridge's serial link."""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from edgehook.orp import Deframer, Packet, parse


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll until `predicate()` is truthy or `timeout` s passed; its last answer as a bool."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class ScriptedAsset:
    """Owns a pty; the bridge opens `port` (optionally a symlink that can vanish and come back)."""

    def __init__(self, link: Path | None = None) -> None:
        self.link = link
        self.master = -1
        self.slave = -1
        self.port = ""
        self.deframer = Deframer()
        self.inbox: list[Packet] = []
        self.seq = 0
        self.plug()

    # -- the pty ------------------------------------------------------------------------------
    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo / line editing before the bridge configures the port
        name = os.ttyname(self.slave)
        if self.link is not None:
            tmp = self.link.with_suffix(".tmp")
            if tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(name)
            os.replace(tmp, self.link)
            self.port = str(self.link)
        else:
            self.port = name
        self.deframer = Deframer()

    def unplug(self) -> None:
        """The device disappears: the pty closes and the symlink (if any) goes away."""
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1

    close = unplug

    # -- bytes and packets ----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]

    def send(self, pkt: Packet) -> None:
        self.write(pkt.frame())

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def pump(self, timeout: float = 0.05) -> None:
        """Read what the bridge sent within `timeout` into `inbox`."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return
        for payload in self.deframer.feed(data):
            self.inbox.append(parse(payload))

    def expect(self, match: Callable[[Packet], bool], timeout: float = 5.0) -> Packet:
        """The first received packet that matches (removed from the inbox); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for i, pkt in enumerate(self.inbox):
                if match(pkt):
                    return self.inbox.pop(i)
            if time.monotonic() >= deadline:
                got = [p.encode() for p in self.inbox[-5:]]
                raise AssertionError(f"no matching packet within {timeout} s; last: {got}")
            self.pump()

    def request(self, pkt: Packet, timeout: float = 5.0) -> Packet:
        """Send a request with a fresh sequence number and return its response."""
        if pkt.seq == 0:
            pkt.seq = self.next_seq()
        self.send(pkt)
        want = pkt.type.lower()
        return self.expect(lambda p: p.type == want and p.seq == pkt.seq, timeout)

    def answer_sync(self, timeout: float = 8.0) -> Packet:
        sync = self.expect(lambda p: p.type == "Y", timeout)
        self.send(Packet("y", "@", sync.seq))
        return sync


class PushingAsset(ScriptedAsset):
    """An asset that behaves like the firmware's ORP client, in a thread: it answers SYNC and
    (re)creates its resources, keeps readings until they are acked `p@` (one request at a time,
    retransmit after `rto` s), and recreates a resource on NOT_FOUND."""

    def __init__(self, paths: list[str], rto: float = 0.3, link: Path | None = None,
                 corrupt: Callable[[bytes], bytes] | None = None) -> None:
        super().__init__(link=link)
        self.paths = paths
        self.rto = rto
        self.corrupt = corrupt or (lambda b: b)
        self.buffer: list[tuple[str, float, bytes]] = []  # (path, timestamp, data) not yet acked
        self.acked: list[tuple[str, float, bytes]] = []
        self.todo: list[Packet] = [Packet("I", "N", path=p) for p in paths]
        self.outstanding: tuple[Packet, float] | None = None
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, path: str, timestamp: float, value: float) -> None:
        with self._lock:
            self.buffer.append((path, timestamp, repr(value).encode()))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self.buffer)

    def write(self, data: bytes) -> None:
        try:
            super().write(self.corrupt(data))
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        super().close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except OSError:
                time.sleep(0.05)

    def _step(self) -> None:
        ready, _, _ = select.select([self.master], [], [], 0.02)
        if ready:
            data = self.corrupt(os.read(self.master, 65536))
            for payload in self.deframer.feed(data):
                try:
                    self._on_packet(parse(payload))
                except Exception:  # a corrupted packet that still parses oddly: ignore it
                    continue
        now = time.monotonic()
        if self.outstanding and now - self.outstanding[1] > self.rto:
            self.outstanding = None  # timed out: send again (a fresh sequence number)
        if self.outstanding is None:
            pkt = self._next_request()
            if pkt is not None:
                pkt.seq = self.next_seq()
                self.outstanding = (pkt, now)
                self.write(pkt.frame())

    def _next_request(self) -> Packet | None:
        if self.todo:
            return self.todo[0]
        with self._lock:
            if not self.buffer:
                return None
            path, ts, data = self.buffer[0]
        return Packet("P", "N", path=path, timestamp=ts, data=data)

    def _on_packet(self, pkt: Packet) -> None:
        if pkt.type == "Y":
            self.write(Packet("y", "@", pkt.seq).frame())
            self.todo = [Packet("I", "N", path=p) for p in self.paths]
            self.outstanding = None
            return
        if pkt.type == "c":
            self.write(Packet("C", "@", pkt.seq).frame())
            return
        if self.outstanding is None or pkt.seq != self.outstanding[0].seq:
            return
        sent = self.outstanding[0]
        if pkt.type != sent.type.lower():
            return
        self.outstanding = None
        if sent.type == "I":
            if self.todo and self.todo[0].path == sent.path:
                self.todo.pop(0)
        elif pkt.flag == "@":
            with self._lock:
                if self.buffer and self.buffer[0][0] == sent.path and self.buffer[0][1] == sent.timestamp:
                    self.acked.append(self.buffer.pop(0))
        elif pkt.flag == "A":
            self.todo = [Packet("I", "N", path=p) for p in self.paths]
        else:
            self.refused.append(pkt.flag)
