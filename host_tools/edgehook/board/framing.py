"""Tell whether a byte a client sends to the board falls inside an ORP (HDLC) frame.

ORP frames carry arbitrary bytes, so a 0x03 inside a frame is data. Ctrl-C (0x03) from a tool
such as mpremote arrives outside any frame and must still interrupt running code, as the ESP32
REPL does. The virtual board asks this tracker which 0x03 bytes are interrupts.
"""

from __future__ import annotations

import re

FLAG = 0x7E
CTRL_C = 0x03
_SPECIAL = re.compile(b"[\x03\x7e]")


class FrameTracker:
    """Follow 0x7E flags in a byte stream and report the 0x03 bytes that are outside a frame.

    A frame opens at a flag and closes at the next flag after at least one byte (`7E 7E` keeps it
    open, as an empty frame carries nothing). Two rules keep a lost flag from hiding a Ctrl-C for
    ever: a frame longer than `max_frame` bytes is given up, and so is an open frame after
    `idle_reset` seconds without a byte — a sender writes a whole frame at once.
    """

    def __init__(self, max_frame: int = 2 * (1024 + 2) + 8, idle_reset: float = 0.25) -> None:
        self.max_frame = max_frame
        self.idle_reset = idle_reset
        self.inside = False
        self._length = 0
        self._last = float("-inf")

    def feed(self, data: bytes, now: float) -> list[int]:
        """Consume `data` that arrived at time `now`; return the indexes of 0x03 outside frames."""
        if self.inside and now - self._last > self.idle_reset:
            self.inside = False
        self._last = now
        hits: list[int] = []
        mark = 0
        for match in _SPECIAL.finditer(data):
            i = match.start()
            self._count(i - mark)
            mark = i + 1
            if data[i] == FLAG:
                if self.inside and self._length > 0:
                    self.inside = False
                else:
                    self.inside = True
                    self._length = 0
            elif self.inside:
                self._count(1)
            else:
                hits.append(i)
        self._count(len(data) - mark)
        return hits

    def _count(self, n: int) -> None:
        if self.inside:
            self._length += n
            if self._length > self.max_frame:
                self.inside = False
