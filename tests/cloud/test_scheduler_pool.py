"""In-process parts: the task scheduler's thread on an injected (non-manual) clock, and a worker
process that dies mid-run being replaced."""

from __future__ import annotations

import threading
import time

import pytest

from edgehook.cloud.clock import Clock
from edgehook.cloud.listing import ListParams
from edgehook.cloud.pool import RunTimeout, WorkerDied, WorkerProcess
from edgehook.cloud.runner import Limits
from edgehook.cloud.service import Cloud
from edgehook.octave.credentials import Credentials


class SteppedClock(Clock):
    """A clock the test moves (not `manual`: the scheduler's own thread polls it)."""

    def __init__(self, start: int) -> None:
        self.now = start

    def now_ms(self) -> int:
        return self.now


def _wait(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.02)


def test_scheduler_thread_fires_tasks_on_the_injected_clock(tmp_path):
    clock = SteppedClock(1_000_000)
    cloud = Cloud(tmp_path / "c.db", "co", Credentials("u", "t"), clock, Limits(workers=1))
    cloud.start()
    try:
        out = cloud.store.create_stream({"path": "/co/ticks"})
        js = 'function() { return {"/co/ticks": [{"elems": {"now": Date.now()}}]}; }'
        task = cloud.store.create_object("task", {"js": js, "period": 10})
        clock.now = 1_009_999
        assert cloud.wait_idle(5)
        assert cloud.store.list_events(out["id"], ListParams()) == []
        clock.now = 1_010_000
        _wait(lambda: len(cloud.store.list_runs(task["id"], ListParams())) == 1)
        clock.now = 1_045_000  # fell behind by 3 periods: one run, not three
        _wait(lambda: len(cloud.store.list_runs(task["id"], ListParams())) == 2)
        assert cloud.wait_idle(5)
        runs = cloud.store.list_runs(task["id"], ListParams(order="asc"))
        assert [r["start"] for r in runs] == [1_010_000, 1_045_000]
        nows = sorted(e["elems"]["now"] for e in cloud.store.list_events(out["id"], ListParams()))
        assert abs(nows[0] - time.time() * 1000) < 60_000  # a real clock: JS Date is the real time
    finally:
        cloud.stop()


def test_a_worker_that_dies_mid_run_is_replaced():
    worker = WorkerProcess()
    worker.start()
    job = {"op": "run", "js": "function(e) { while (true) {} }", "input": {}, "now_ms": 0, "frozen": True,
           "device": None, "time_limit": 30, "http_timeout": 1, "memory_limit": 8 << 20, "stack_limit": 1 << 20}
    try:
        first = worker.proc
        assert first is not None
        threading.Timer(0.3, first.kill).start()
        with pytest.raises(WorkerDied):
            worker.run(job, time.monotonic() + 20, lambda n, a: {}, lambda m: None)
        assert worker.proc is not None and worker.proc is not first and worker.restarts == 1
        with pytest.raises(RunTimeout):
            worker.run(job, time.monotonic() + 0.3, lambda n, a: {}, lambda m: None)
        ok = {**job, "js": "function(e) { return {a: 1}; }"}
        assert worker.run(ok, time.monotonic() + 20, lambda n, a: {}, lambda m: None)["result"] == {"a": 1}
    finally:
        worker.kill()


def test_queued_runs_survive_a_restart(tmp_path):
    db = tmp_path / "c.db"
    cloud = Cloud(db, "co", Credentials("u", "t"), Clock(), Limits(workers=1))
    out = cloud.store.create_stream({"path": "/co/out"})
    src = cloud.store.create_stream({"path": "/co/in"})
    js = 'function(e) { return {"/co/out": [{"elems": {"n": e.elems.n}}]}; }'
    action = cloud.store.create_object("action", {"source": "/co/in", "js": js})
    for n in range(3):  # the runner is not started: the runs stay queued
        cloud.ingest(src, {"elems": {"n": n}})
    cloud.stop()
    again = Cloud(db, "co", Credentials("u", "t"), Clock(), Limits(workers=1))
    again.start()
    try:
        assert again.wait_idle(20)
        assert [e["elems"]["n"] for e in again.store.list_events(out["id"], ListParams(order="asc"))] == [0, 1, 2]
        assert len(again.store.list_runs(action["id"], ListParams())) == 3
        assert again.store.queued_runs() == []
    finally:
        again.stop()
