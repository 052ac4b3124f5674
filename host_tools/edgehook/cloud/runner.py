"""Runs Cloud Actions and Tasks off the request path: a queue kept in order per source stream,
a bounded pool of worker processes, run records, routed events (chains) and auto-disable."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edgehook.cloud.errors import NotFound
from edgehook.cloud.filters import parse_filter
from edgehook.cloud.octave_api import serve_call
from edgehook.cloud.pool import RunTimeout, WorkerDied, WorkerProcess
from edgehook.cloud.routing import RoutingError, check_routes, write_routes
from edgehook.cloud.store import Store

log = logging.getLogger(__name__)


@dataclass
class Limits:
    """Limits of one run and of the runtime (docs/cloud.md, "Runtime limits")."""

    time_s: float = 5.0
    memory_bytes: int = 32 * 1024 * 1024
    stack_bytes: int = 1024 * 1024
    http_timeout_s: float = 15.0
    max_depth: int = 8
    disable_after: int = 5
    workers: int = 2


@dataclass
class Job:
    kind: str  # "action" | "task"
    obj_id: str
    key: str  # runs with the same key go one at a time, in order
    event: dict | None = None
    depth: int = 0
    qid: int = 0  # its row in the store's run queue


@dataclass
class RunRecord:
    kind: str
    obj_id: str
    event_id: str | None
    start: int
    console: list[str] = field(default_factory=list)
    http: list[dict] = field(default_factory=list)

    def finish(self, outcome: str, duration_ms: float, error: str | None, **extra: Any) -> dict:
        return {
            f"{self.kind}Id": self.obj_id,
            "eventId": self.event_id,
            "start": self.start,
            "duration_ms": round(duration_ms, 3),
            "outcome": outcome,
            "error": error,
            "console": self.console,
            "http": self.http,
            **extra,
        }


class Runner:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.clock = store.clock
        self.limits = limits
        self.cond = threading.Condition()
        self.queues: dict[str, deque[Job]] = {}
        self.ready: deque[str] = deque()
        self.busy: set[str] = set()
        self.pending = 0
        self.stopping = False
        self.workers = [WorkerProcess() for _ in range(max(1, limits.workers))]
        self.threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers; runs queued before a stop (or a crash) are queued again first."""
        resumed = self.store.queued_runs()
        for qid, job in resumed:
            self.submit(Job(**{**job, "qid": qid}))
        if resumed:
            log.warning("resuming %d queued run(s) from before the restart", len(resumed))
        for i, worker in enumerate(self.workers):
            worker.start()
            t = threading.Thread(target=self._loop, args=(worker,), name=f"cloud-runner-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for t in self.threads:
            t.join(timeout=self.limits.time_s + 1)
        for worker in self.workers:
            worker.kill()

    # -- queue -----------------------------------------------------------------------------
    def on_event(self, event: dict, depth: int = 0) -> int:
        """Queue the runs of the actions on `event`'s stream (after their filters); how many."""
        n = 0
        for action in self.store.actions_for(event):
            try:
                pred = parse_filter(action.get("filter"))
            except Exception:  # checked on create; a stored bad filter must not stop ingest
                pred = None
            if pred is None or pred(event):
                self.submit(Job("action", action["id"], event["streamId"], event, depth))
                n += 1
        return n

    def submit(self, job: Job) -> None:
        if not job.qid:
            job.qid = self.store.enqueue_run(
                {"kind": job.kind, "obj_id": job.obj_id, "key": job.key, "event": job.event, "depth": job.depth}
            )
        with self.cond:
            self.queues.setdefault(job.key, deque()).append(job)
            if job.key not in self.busy and job.key not in self.ready:
                self.ready.append(job.key)
            self.pending += 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or running; False if `timeout` (s) passed first."""
        with self.cond:
            return self.cond.wait_for(lambda: self.pending == 0, timeout)

    def _loop(self, worker: WorkerProcess) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.stopping or bool(self.ready))
                if self.stopping:
                    return
                key = self.ready.popleft()
                self.busy.add(key)
                job = self.queues[key].popleft()
            try:
                self.execute(job, worker)
            except Exception:  # a bug in the runtime must not stop the pool
                log.exception("run of %s %s failed in the runtime", job.kind, job.obj_id)
            finally:
                self.store.dequeue_run(job.qid)
                with self.cond:
                    self.busy.discard(key)
                    if self.queues[key]:
                        self.ready.append(key)
                    else:
                        del self.queues[key]
                    self.pending -= 1
                    self.cond.notify_all()

    # -- one run ---------------------------------------------------------------------------
    def execute(self, job: Job, worker: WorkerProcess) -> dict | None:
        try:
            obj = self.store.get_object(job.kind, job.obj_id)
        except NotFound:
            return None  # deleted while queued
        if obj.get("disabled"):
            return None
        event = job.event
        rec = RunRecord(job.kind, job.obj_id, event["id"] if event else None, self.clock.now_ms())
        t0 = time.monotonic()
        msg = {
            "op": "run",
            "js": obj["js"],
            "input": event,
            "now_ms": self.clock.now_ms(),
            "frozen": self.clock.manual,
            "device": _device_name(event),
            "time_limit": self.limits.time_s,
            "deadline": t0 + self.limits.time_s,  # monotonic, shared with the worker on one host
            "http_timeout": self.limits.http_timeout_s,
            "memory_limit": self.limits.memory_bytes,
            "stack_limit": self.limits.stack_bytes,
        }

        def on_record(m: dict) -> None:
            if m.get("op") == "log":
                rec.console.append(str(m.get("text")))
            elif m.get("op") == "http":
                rec.http.append(m.get("record") or {})

        outcome, error, extra = "ok", None, {}
        try:
            done = worker.run(msg, t0 + self.limits.time_s, lambda n, a: serve_call(self.store, n, a), on_record)
            if not done.get("ok"):
                err = done.get("error") or {}
                outcome, error = "error", f"{err.get('name', 'Error')}: {err.get('message')}"
                if err.get("details"):
                    extra["details"] = err["details"]
            else:
                extra = self._route(done.get("result"), job.depth)
        except RunTimeout:
            outcome, error = "timeout", f"the run exceeded its time limit of {self.limits.time_s:g} s and was stopped"
        except WorkerDied as exc:
            outcome, error = "error", f"the worker process died: {exc}"
        except RoutingError as exc:
            outcome, error = "error", str(exc)
        run = rec.finish(outcome, (time.monotonic() - t0) * 1000, error, **extra)
        failures = self.store.record_run(job.obj_id, run, failed=outcome != "ok")
        if outcome != "ok" and failures >= self.limits.disable_after:
            self._disable(job.kind, job.obj_id, error or outcome)
        return run

    def _route(self, result: Any, depth: int) -> dict:
        written = write_routes(self.store, check_routes(self.store, result))
        new = [ev for ev, outcome in written if outcome == "created"]
        extra: dict[str, Any] = {
            "routed": {"created": len(new), "updated": len(written) - len(new)},
        }
        if depth + 1 > self.limits.max_depth:
            if new:
                extra["warnings"] = [
                    f"chain depth limit {self.limits.max_depth} reached: "
                    f"{len(new)} routed event(s) were stored but ran no actions"
                ]
            return extra
        for ev in new:
            self.on_event(ev, depth + 1)
        return extra

    def _disable(self, kind: str, obj_id: str, message: str) -> None:
        """Octave's auto-disable: `disabled: true` and a DISABLE notice in the company inbox."""
        self.store.set_disabled(kind, obj_id)
        inbox = "cloud-actions" if kind == "action" else "tasks"
        stream = self.store.stream_by_path(f"/{self.store.company}/:inbox/{inbox}")
        if stream is None:
            return
        elems = {
            "action": "DISABLE",
            "sourceId": obj_id,
            "details": {
                "message": f"disabled after {self.limits.disable_after} consecutive failed runs: {message}",
                "lastErrors": self.store.last_errors(obj_id, self.limits.disable_after),
            },
        }
        event, _ = self.store.create_event(stream, elems)
        self.on_event(event)
        log.warning("%s %s disabled after %d failed runs", kind, obj_id, self.limits.disable_after)


def _device_name(event: dict | None) -> str | None:
    if not event:
        return None
    parts = str(event.get("path", "")).split("/")
    return parts[3] if len(parts) >= 5 and parts[2] == "devices" else None
