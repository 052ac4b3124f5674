"""`edgehook demo`'s machinery: the whole path on this machine, started and stopped as one.

Local cloud (a real `edgehook cloud serve` process) → the bundle deployed → a loopback webhook
receiver answering a realistic mix → the virtual board running the firmware → the bridge
(a real `edgehook bridge` process). `snapshot()` reads the counts a live view shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import selectors
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgehook.bundle.build import build_bundle
from edgehook.bundle.deliveries import counts
from edgehook.bundle.deploy import deploy_bundle
from edgehook.bundle.manifest import load_manifest
from edgehook.bundle.receiver import Received, Reply, WebhookReceiver
from edgehook.bundle.settings import new_secret, resolve_settings
from edgehook.errors import RemoteError, UsageError
from edgehook.octave.client import OctaveClient

log = logging.getLogger(__name__)

COMPANY = "demo"
DEVICE = "demo-board"
STREAMS = ("env", "io", "mcu", "adc", "health")
# Livelier than the firmware's defaults so a short demo shows a flow (merged over the defaults).
BOARD_CONFIG = {"health": 10.0, "sensors": {"env/temp": {"period": 1.0}, "env/level": {"period": 2.0},
                                            "io/door": {"period": 2.0}}}


class DemoMix:
    """The receiver's answers, decided per webhook id so every retry of a message agrees:
    mostly 201; some 202 whose status check says Running once, then Succeeded; an occasional
    503 (Retry-After 1) on the first attempt, then 201."""

    def __init__(self, accepted: float = 0.15, unavailable: float = 0.08) -> None:
        self.accepted, self.unavailable = accepted, unavailable
        self.seen: Counter = Counter()
        self.lock = threading.Lock()

    def _roll(self, key: str) -> float:
        return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    def __call__(self, req: Received) -> Reply:
        if req.method == "GET" and req.path.startswith("/status/"):
            op = req.path.rsplit("/", 1)[-1]
            with self.lock:
                self.seen["check:" + op] += 1
                n = self.seen["check:" + op]
            state = "Running" if n < 2 else "Succeeded"
            return Reply(200, {"Content-Type": "application/json"}, json.dumps({"status": state}))
        wid = req.webhook_id or "?"
        with self.lock:
            self.seen[wid] += 1
            first = self.seen[wid] == 1
        roll = self._roll(wid)
        if first and roll < self.unavailable:
            return Reply(503, {"Retry-After": "1"}, "busy, try again")
        if roll > 1 - self.accepted:
            return Reply(202, {"Location": f"/status/{wid}", "Retry-After": "1"}, '{"status": "NotStarted"}')
        return Reply(201, {"Location": f"/readings/{wid}"}, json.dumps({"id": wid}))


def start_cloud(work: Path, env: dict[str, str], deadline_s: float = 30.0) -> tuple[subprocess.Popen, str]:
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "edgehook", "cloud", "serve", "--db", str(work / "cloud.db"), "--port", "0",
           "--company", COMPANY, "--http-timeout", "3"]
    with open(work / "cloud.log", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, start_new_session=True)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(deadline_s)
    url = proc.stdout.readline().decode().strip() if ready else ""
    if not url.startswith("http"):
        stop_process(proc)
        raise RemoteError("the local cloud did not start", hint=f"see {work / 'cloud.log'}")
    return proc, url


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RemoteError(f"demo: {what} within {timeout:.0f} s failed", hint="run with -v for logs")
        time.sleep(0.1)


def events_ingested(client: OctaveClient, paths: list[str]) -> int:
    """Events these streams took in: those they hold plus those their capacity evicted (the local
    cloud counts them), so a long demo does not look as if readings went missing."""
    total = 0
    for path in paths:
        try:
            stream = client.find_stream(path)
            if stream is None:
                continue
            held = client.list_events(stream_id=str(stream["id"]), only="id",
                                      limit=max(1, int(stream.get("capacity") or 1000)))
            total += len(held) + int(stream.get("evicted") or 0)
        except RemoteError:
            pass
    return total


def flash_board(dest: Path) -> Path:
    """A virtual board's flash holding the firmware as `edgehook board deploy` puts it (.mpy)."""
    from edgehook.board.vboard import make_board_dir

    return make_board_dir(dest, mpy=True)


def in_flight(snap: dict[str, Any]) -> dict[str, int]:
    """What a snapshot shows still on its way: readings not yet events (in the bridge's outbox),
    events without a delivery record yet, and deliveries pending or retrying."""
    states = snap["deliveries"]
    records = sum(states.values())
    return {
        "outbox": max(0, (snap["readings"] or 0) - snap["events"]),
        "unrecorded": max(0, snap["events"] - records),
        "open": states.get("pending", 0) + states.get("retrying", 0),
    }


class Demo:
    """Start with `start(progress)`, read `snapshot()`, always `stop()` (idempotent)."""

    def __init__(self, work: Path, seed: int = 1, task_period: float = 1.0, heap: str = "48wk") -> None:
        self.work = work
        self.seed = seed
        self.heap = heap
        self.task_period = task_period
        self.secret = new_secret()
        self.mix = DemoMix()
        self.receiver = WebhookReceiver(self.mix, secret=self.secret)
        self.cloud: subprocess.Popen | None = None
        self.bridge: subprocess.Popen | None = None
        self.board: Any = None
        self.client: OctaveClient | None = None
        self.env: dict[str, str] = {}
        self.started = 0.0

    def start(self, progress: Callable[[str], None] = lambda s: None) -> None:
        from edgehook.board.vboard import VirtualBoard

        try:
            self.work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot use {self.work} for the demo's files: {exc.strerror or exc}",
                             hint="pass --dir a folder you can write") from exc
        user, token = "demo", secrets.token_urlsafe(24)
        base_env = {**os.environ, "EDGEHOOK_USER": user, "EDGEHOOK_TOKEN": token,
                    "EDGEHOOK_CREDENTIALS": str(self.work / "credentials.json")}
        progress("starting the local cloud")
        self.cloud, url = start_cloud(self.work, base_env)
        self.env = {**base_env, "EDGEHOOK_CLOUD_URL": url, "EDGEHOOK_COMPANY": COMPANY}
        self.client = OctaveClient(url, COMPANY, user, token, timeout=10)
        _wait(lambda: self._answers(), 20, "reaching the local cloud")
        progress("starting the webhook receiver")
        self.receiver.start()
        progress("deploying the Cloud Action bundle")
        self.client.create_device(DEVICE)
        manifest = load_manifest()
        settings = resolve_settings(manifest, {
            "webhook.url": self.receiver.url, "webhook.secret": self.secret, "forward.devices": DEVICE,
            "task.period": str(self.task_period), "policy.pollSchedule": "1,2,5", "policy.retrySchedule": "1,2,5,10",
        }, env={})
        deploy_bundle(self.client, build_bundle(manifest, settings, COMPANY), [o.name for o in manifest.objects])
        progress("starting the virtual board")
        self.board = VirtualBoard(flash_board(self.work / "board"), heap=self.heap, seed=self.seed,
                                  config=BOARD_CONFIG).start()
        progress("starting the bridge")
        cmd = [sys.executable, "-m", "edgehook", "bridge", "--port", self.board.port, "--device", DEVICE,
               "--outbox", str(self.work / "outbox.db"), "--plain", "--status-every", "3600"]
        with open(self.work / "bridge.log", "wb") as out:
            self.bridge = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                           start_new_session=True)
        self.started = time.time()

    def _answers(self) -> bool:
        try:
            assert self.client is not None
            return self.client.request("GET", "/stream", params={"limit": 1}).ok
        except RemoteError:
            return False

    def stopped(self) -> list[str]:
        """The parts that died (empty while all run)."""
        dead = []
        if self.cloud is not None and self.cloud.poll() is not None:
            dead.append("cloud")
        if self.bridge is not None and self.bridge.poll() is not None:
            dead.append("bridge")
        if self.board is not None and not self.board.alive:
            dead.append("board")
        return dead

    def snapshot(self) -> dict[str, Any]:
        """Counts for the live view and the summary, read downstream first (webhooks, records,
        events, readings) so that each count is at most the next one despite the flow."""
        assert self.client is not None
        posts = self.receiver.posts()
        checks = sum(1 for r in self.receiver.requests if r.method == "GET")
        deliveries = dict(counts(self.client))
        events = events_ingested(self.client, [f"/{COMPANY}/devices/{DEVICE}/{s}" for s in STREAMS])
        first: dict[str, Received] = {}
        for p in posts:
            first.setdefault(p.webhook_id or "", p)
        latencies = sorted(p.at * 1000 - float(json.loads(p.body).get("timestamp") or 0) for p in first.values())
        return {
            "elapsed": time.time() - self.started if self.started else 0.0,
            "readings": self._outbox_accepted(),
            "events": events,
            "deliveries": deliveries,
            "posts": len(posts),
            "messages": len(first),
            "checks": checks,
            "verified": sum(1 for p in posts if p.verified),
            "latency_ms": {"p50": statistics.median(latencies) if latencies else None,
                           "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None},
        }

    def _outbox_accepted(self) -> int | None:
        path = self.work / "outbox.db"
        if not path.exists():
            return None
        import sqlite3

        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
                row = db.execute("SELECT value FROM counters WHERE name='accepted'").fetchone()
            return int(row[0]) if row else 0
        except sqlite3.Error:
            return None

    def settle(self, timeout: float) -> bool:
        """Stop the board (no new readings), then wait up to `timeout` s while the bridge and the
        cloud finish what is in flight: every reading an event, every event a delivery record
        that is delivered or failed. True when nothing is left in flight."""
        if self.board is not None:
            self.board.stop()
        deadline = time.monotonic() + timeout
        while True:
            left = in_flight(self.snapshot())
            if not any(left.values()) or time.monotonic() >= deadline:
                return not any(left.values())
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the bridge, the board, the receiver and the cloud; nothing is left running."""
        stop_process(self.bridge)
        if self.board is not None:
            self.board.stop()
        self.receiver.stop()
        stop_process(self.cloud)
