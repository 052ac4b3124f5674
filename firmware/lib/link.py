"""The ORP link on the REPL serial (stdin/stdout): non-blocking reads that stop after a 0x03, so
the bytes behind a Ctrl-C are left for the REPL."""

import select
import sys


class Stdio:
    repl = True  # the link shares the REPL: Ctrl-C outside a frame gives the REPL back

    def __init__(self):
        self.rx = sys.stdin.buffer
        self.tx = sys.stdout.buffer
        self.poll = select.poll()
        self.poll.register(sys.stdin, select.POLLIN)
        self.buf = bytearray(1)
        self.eof = False

    def readinto(self, buf):
        """Read what is waiting (never blocks: stdin's read(n) would wait for all n bytes)."""
        n = 0
        while n < len(buf):
            ready = False
            for _obj, ev in self.poll.ipoll(0):
                ready = True
                if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                    self.eof = True
                    return n
            if not ready:
                break
            if not self.rx.readinto(self.buf):
                self.eof = True
                break
            b = self.buf[0]
            buf[n] = b
            n += 1
            if b == 3:
                break
        return n

    def write(self, data, n=-1):
        """Write data, or data[:n] without slicing it (MicroPython streams take a length)."""
        if n < 0:
            self.tx.write(data)
        else:
            self.tx.write(data, n)
