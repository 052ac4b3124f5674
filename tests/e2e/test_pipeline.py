"""End to end: virtual board (real firmware in MicroPython) → bridge → local cloud → bundled action
→ webhook receiver. Every reading arrives exactly once by webhook id, with its device timestamp."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgehook.bundle.demo import BOARD_CONFIG, flash_board
from edgehook.bundle.receiver import Received, Reply, WebhookReceiver
from edgehook.bundle.settings import new_secret
from tests.bundle.helpers import assert_signed, deploy
from tests.fixtures.cloud import start_local_cloud

pytestmark = pytest.mark.slow
DEVICE = "e2e-board"
STREAMS = ("env", "io", "mcu", "adc", "health")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_board_to_webhook_exactly_once(tmp_path: Path, vboard_factory: Callable) -> None:
    secret = new_secret()
    cloud = start_local_cloud(tmp_path / "cloud", company="e2e", manual_clock=True)
    first_503: set[str] = set()
    seen: list[str] = []

    def script(req: Received) -> Reply:  # every 4th message is refused once (503): a retry in the path
        wid = req.webhook_id or ""
        if wid not in seen:
            seen.append(wid)
            if len(seen) % 4 == 1:
                first_503.add(wid)
                return Reply(503, {"Retry-After": "2"})
        return Reply(201, {"Location": f"/r/{wid}"})

    bridge = None
    try:
        with WebhookReceiver(script, secret=secret) as rx:
            client = cloud.client()
            client.create_device(DEVICE)
            deploy(client, {"webhook.url": rx.url, "webhook.secret": secret, "task.period": "2"})
            board = vboard_factory(dir=flash_board(tmp_path / "flash"), seed=3, config=BOARD_CONFIG)
            cmd = [sys.executable, "-m", "edgehook", "bridge", "--port", board.port, "--device", DEVICE,
                   "--outbox", str(tmp_path / "outbox.db"), "--plain"]
            with open(tmp_path / "bridge.log", "wb") as log:
                bridge = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                          env={**os.environ, **cloud.env()})

            def events() -> list[dict]:
                out = []
                for s in STREAMS:
                    out += client.list_events(path=f"/e2e/devices/{DEVICE}/{s}", limit=10_000)
                return out

            wait_for(lambda: len(events()) >= 12, 60, "12 readings in the cloud (see bridge.log)")
            board.stop()  # no more readings: what was read must all arrive
            wait_for(lambda: "outbox_open=0" in _status(bridge, tmp_path), 30, "the outbox to drain")
            cloud.wait_idle(15)
            for _ in range(3):
                cloud.advance(3)  # the deliveries task retries the refused ones
            stored = events()
            counters = json.loads(_outbox(tmp_path).stdout)["counters"]
            # what the bridge acked to the board is what the cloud holds: nothing lost on the way
            assert counters["accepted"] == counters["delivered"] == len(stored), counters
            posts = rx.posts()
            ok_ids = [p.webhook_id for p in posts if p.answered == 201]
            by_event = {}
            for p in posts:
                assert_signed(secret, p)
                by_event.setdefault(json.loads(p.body)["eventId"], set()).add(p.webhook_id)
            assert set(by_event) == {e["id"] for e in stored}  # every reading arrived
            assert all(len(ids) == 1 for ids in by_event.values())  # one webhook id per reading
            assert len({next(iter(ids)) for ids in by_event.values()}) == len(stored)
            assert len(ok_ids) == len(set(ok_ids)) == len(stored)  # accepted exactly once per id
            for e in stored:
                body = next(json.loads(p.body) for p in posts if json.loads(p.body)["eventId"] == e["id"])
                assert body["timestamp"] == e["generatedDate"] and body["device"] == DEVICE
                assert body["elems"] == e["elems"]
            recs = client.list_events(path="/e2e/webhooks/deliveries", limit=10_000)
            assert len(recs) == len(stored) and {r["elems"]["state"] for r in recs} == {"delivered"}
            assert first_503, "the scripted 503s never happened: the retry path was not exercised"
    finally:
        if bridge is not None and bridge.poll() is None:
            bridge.send_signal(signal.SIGTERM)
            try:
                bridge.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(bridge.pid, signal.SIGKILL)
        cloud.stop()


def _outbox(tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgehook", "outbox", "status", str(tmp_path / "outbox.db")],
                          capture_output=True, text=True, timeout=30)


def _status(bridge: subprocess.Popen, tmp_path: Path) -> str:
    data = json.loads(_outbox(tmp_path).stdout or "{}")
    return f"outbox_open={data.get('open', '?')}"
