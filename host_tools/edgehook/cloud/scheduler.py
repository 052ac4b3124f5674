"""Runs each enabled Task every period: a thread on the real clock, or on demand when a
manual clock is advanced (each due instant in turn, the clock set to it, runs finished)."""

from __future__ import annotations

import logging
import threading

from edgehook.cloud.clock import ManualClock
from edgehook.cloud.errors import Invalid
from edgehook.cloud.runner import Job, Runner
from edgehook.cloud.store import Store

log = logging.getLogger(__name__)
MAX_STEPS = 10000


class Scheduler:
    def __init__(self, store: Store, runner: Runner) -> None:
        self.store = store
        self.runner = runner
        self.clock = store.clock
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.advance_lock = threading.Lock()

    def start(self) -> None:
        if not self.clock.manual:
            self.thread = threading.Thread(target=self._loop, name="cloud-scheduler", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(timeout=2)

    def fire_due(self, now_ms: int) -> int:
        """Queue a run of every task due at `now_ms` and schedule its next time; how many."""
        n = 0
        for task, due in self.store.due_tasks(now_ms):
            period_ms = max(1000, int(task["period"] * 1000))
            nxt = due + period_ms
            if nxt <= now_ms:  # fell behind (a busy or sleeping host): skip, do not pile up
                nxt = now_ms + period_ms
            self.store.set_next_due(task["id"], nxt)
            self.runner.submit(Job("task", task["id"], f"task:{task['id']}"))
            n += 1
        return n

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            now = self.clock.now_ms()
            try:
                self.fire_due(now)
            except Exception:
                log.exception("the task scheduler failed; trying again")
            nxt = self.store.next_due()
            wait = 1.0 if nxt is None else min(1.0, max(0.01, (nxt - self.clock.now_ms()) / 1000))
            self.stop_event.wait(wait)

    def advance(self, seconds: float, timeout: float = 60.0) -> dict:
        """Manual clock: move to each due instant up to now + seconds, run those tasks to the end."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise Invalid("the clock is not manual (start the server with --manual-clock)")
        with self.advance_lock:
            target = clock.now_ms() + int(round(seconds * 1000))
            runs = 0
            idle = self.runner.wait_idle(timeout)
            for _ in range(MAX_STEPS):
                nxt = self.store.next_due()
                if nxt is None or nxt > target:
                    break
                clock.set(nxt)
                runs += self.fire_due(nxt)
                idle = self.runner.wait_idle(timeout)
            else:
                raise Invalid(f"advancing needs more than {MAX_STEPS} task steps; advance less at once")
            clock.set(target)
            return {"now": clock.now_ms(), "taskRuns": runs, "idle": idle}
