"""Readings in time: the board's wall clock (integer seconds since 2020 + ms: ESP32 floats are
single precision) and the offline buffer, a bounded ring of readings with their original
timestamps that drops the oldest (and counts it) when full. Preallocated arrays, 11 bytes a
reading, nothing allocated per reading (issue 3, "Offline buffer")."""

from array import array
from time import ticks_diff, ticks_ms

EPOCH2020 = 1577836800  # unix seconds of 2020-01-01T00:00:00Z
SIZE = 128  # the default ring: 1.4 KB, room on an ESP32 without PSRAM


class Clock:
    def __init__(self, unix_ms):
        self.last = ticks_ms()
        self.up = 0  # uptime, s + ms
        self.upms = 0
        self.ok = False
        self.bs = 0  # wall time at uptime 0, s since 2020 + ms
        self.bms = 0
        self.s = 0
        self.ms = 0
        self.ts = 0
        self.us = 0
        if unix_ms is not None:
            self.set(unix_ms // 1000, unix_ms % 1000 * 1000)

    def tick(self):
        """Bring .s/.ms to now; while the clock is unset .s is -(1 + uptime s)."""
        now = ticks_ms()
        m = self.upms + ticks_diff(now, self.last)
        self.last = now
        self.up += m // 1000
        self.upms = m % 1000
        if self.ok:
            m = self.bms + self.upms
            self.s = self.bs + self.up + m // 1000
            self.ms = m % 1000
        else:
            self.s = -1 - self.up
            self.ms = self.upms

    def set(self, sec, us):
        """Set from unix seconds + microseconds (SYNC's T)."""
        self.tick()
        t = (sec - EPOCH2020 - self.up) * 1000 + us // 1000 - self.upms
        self.bs = t // 1000
        self.bms = t % 1000
        self.ok = True
        self.tick()

    def wall(self, s, ms):
        """Unix time of a stored (s, ms) into .ts/.us; False while it cannot be known."""
        if s < 0:
            if not self.ok:
                return False
            m = self.bms + ms
            s = self.bs - 1 - s + m // 1000
            ms = m % 1000
        self.ts = s + EPOCH2020
        self.us = ms * 1000
        return True



class Ring:
    def __init__(self, size):
        self.size = size
        self.res = bytearray(size)  # resource index
        self.sec = array("i", bytes(4 * size))  # seconds since 2020 (negative: clock unset, see Clock)
        self.ms = array("H", bytes(2 * size))
        self.val = array("f", bytes(4 * size))
        self.head = 0
        self.n = 0
        self.dropped = 0
        self.busy = False  # the head is in flight: a drop takes the next one instead

    def put(self, res, sec, ms, val):
        size = self.size
        if self.n == size:
            self.dropped += 1
            h = self.head
            if self.busy:  # keep the in-flight head: move it over the next (dropped) slot
                j = (h + 1) % size
                self.res[j] = self.res[h]
                self.sec[j] = self.sec[h]
                self.ms[j] = self.ms[h]
                self.val[j] = self.val[h]
            self.head = (h + 1) % size
            self.n -= 1
        i = (self.head + self.n) % size
        self.res[i] = res
        self.sec[i] = sec
        self.ms[i] = ms
        self.val[i] = val
        self.n += 1

    def pop(self):
        """Remove the head (delivered or rejected)."""
        if self.n:
            self.head = (self.head + 1) % self.size
            self.n -= 1
        self.busy = False
