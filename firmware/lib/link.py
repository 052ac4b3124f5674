"""The ORP link on the REPL serial (stdin/stdout): non-blocking reads that stop after a 0x03, so
the bytes behind a Ctrl-C are left for the REPL."""

import select
import sys


class Stdio:
    repl = True  # the link shares the REPL: Ctrl-C outside a frame gives the REPL back

    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._p = select.poll()
        self._p.register(sys.stdin, select.POLLIN)
        self._one = bytearray(1)
        self.eof = False

    def readinto(self, buf):
        """Read what is waiting (never blocks: stdin's read(n) would wait for all n bytes)."""
        n = 0
        while n < len(buf):
            ready = False
            for _obj, ev in self._p.ipoll(0):
                ready = True
                if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                    self.eof = True
                    return n
            if not ready:
                break
            if not self._in.readinto(self._one):
                self.eof = True
                break
            b = self._one[0]
            buf[n] = b
            n += 1
            if b == 3:
                break
        return n

    def write(self, data):
        self._out.write(data)
