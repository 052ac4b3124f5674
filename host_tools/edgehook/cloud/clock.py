"""The server clock: real time, or a manual clock that stands still until advanced (tests)."""

from __future__ import annotations

import threading
import time


class Clock:
    """Milliseconds since the epoch, as Octave's creationDate/generatedDate."""

    manual = False

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock(Clock):
    """Stands still at `start_ms` (default: the real time at start) until `advance` or `set`."""

    manual = True

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now

    def set(self, ms: int) -> None:
        with self._lock:
            self._now = max(self._now, int(ms))  # a clock never goes back
