"""A scripted ORP asset on a real pseudo-terminal: the test's side of the bridge's serial link."""

from __future__ import annotations

import os
import select
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
