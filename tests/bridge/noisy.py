"""A noisy serial line: a relay between two ptys that flips, drops and inserts bytes."""

from __future__ import annotations

import os
import random
import select
import threading
import tty


class CorruptingRelay:
    """Copies bytes between two ptys (asset side ⇄ bridge side), flipping, dropping and inserting
    junk bytes at a given rate in both directions."""

    def __init__(self, a_fd: int, rate: float, seed: int = 3) -> None:
        self.a_fd = a_fd
        self.rng = random.Random(seed)
        self.rate = rate
        self.flips = self.drops = self.junk = 0
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def mangle(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            if self.rng.random() < self.rate:
                kind = self.rng.randrange(3)
                if kind == 0:
                    self.flips += 1
                    out.append(b ^ (1 << self.rng.randrange(8)))
                elif kind == 1:
                    self.drops += 1
                else:
                    self.junk += 1
                    out += bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 8)))
                    out.append(b)
            else:
                out.append(b)
        return bytes(out)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.a_fd, self.master], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    continue
                other = self.master if fd == self.a_fd else self.a_fd
                try:
                    os.write(other, self.mangle(data))
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self._slave)
