"""The delivery contract through the real local cloud and runtime, a scripted loopback receiver
and the manual clock: retries, Retry-After, 202 follow-ups, 410, timeouts, permanent failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from edgehook.bundle.receiver import Reply, WebhookReceiver
from edgehook.bundle.settings import new_secret
from tests.bundle.helpers import Scripted, assert_signed, deploy, post_reading, records, sequence
from tests.fixtures.cloud import LocalCloud, start_local_cloud

DEVICES = ["retry", "ra-secs", "ra-date", "ok202", "fail202", "never202", "late202", "slow", "bad", "moved",
           "replay", "giveup", "gone"]
SECRET = new_secret()
POLICY = {"policy.jitter": "0", "policy.retrySchedule": "5,30", "policy.maxAttempts": "3",
          "policy.maxChecks": "3", "policy.pendingExpiry": "60", "task.period": "5",
          "forward.streams": "env"}


class Env:
    def __init__(self, cloud: LocalCloud, rx: WebhookReceiver, script: Scripted) -> None:
        self.cloud, self.rx, self.script = cloud, rx, script
        self.client = cloud.client()
        self.sent = 0

    def send(self, device: str, value: float = 21.5) -> dict:
        self.sent += 1  # the manual clock stands still: keep device timestamps distinct
        ts = self.cloud.now_ms() - 1500 + self.sent  # measured a moment before the upload
        event = post_reading(self.client, device, value, ts)
        self.cloud.wait_idle(15)
        return event

    def posts(self, device: str) -> list:
        return [r for r in self.rx.posts() if json.loads(r.body)["device"] == device]

    def gets(self, device: str) -> list:
        return [r for r in self.rx.requests if r.method == "GET" and r.path.split("/")[2] == device]

    def record(self, device: str) -> dict:
        found = records(self.client, device)
        assert len(found) == 1, found  # exactly one record per (source event, endpoint)
        return found[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    cloud = start_local_cloud(tmp_path_factory.mktemp("cloud"), args=("--http-timeout", "1"))
    script = Scripted()
    try:
        with WebhookReceiver(script, secret=SECRET) as rx:
            client = cloud.client()
            for name in DEVICES:
                client.create_device(name)
            deploy(client, {"webhook.url": rx.url, "webhook.secret": SECRET, **POLICY})
            yield Env(cloud, rx, script)
    finally:
        cloud.stop()


def test_201_is_delivered_with_location_and_signed_headers(env: Env) -> None:
    env.script.handlers["retry"] = sequence(Reply(500, body="boom"), Reply(500), Reply(201, {"Location": "https://r/1"}, '{"id": 1}'))
    event = env.send("retry", 20.25)
    rec = env.record("retry")
    assert rec["state"] == "retrying" and rec["attempts"] == 1 and rec["lastStatus"] == 500
    assert rec["nextAttemptAt"] == rec["lastAttemptAt"] + 5_000  # first retry step, no jitter here
    env.cloud.advance(5)
    assert env.record("retry")["attempts"] == 2
    env.cloud.advance(30)
    rec = env.record("retry")
    assert (rec["state"], rec["attempts"], rec["lastStatus"], rec["location"]) == ("delivered", 3, 201, "https://r/1")
    posts = env.posts("retry")
    assert len(posts) == 3 and len({p.webhook_id for p in posts}) == 1  # one id across retries
    assert len({p.body for p in posts}) == 1
    for p in posts:
        assert_signed(SECRET, p)
    body = posts[0].json()
    assert body["eventId"] == event["id"] and body["timestamp"] == event["generatedDate"]
    assert body["elems"] == {"env": {"temp": 20.25}} and body["stream"] == "env"
    env.cloud.advance(60)
    assert len(env.posts("retry")) == 3  # delivered means no more posts


def test_429_retry_after_seconds(env: Env) -> None:
    env.script.handlers["ra-secs"] = sequence(Reply(429, {"Retry-After": "42"}), Reply(201))
    env.send("ra-secs")
    rec = env.record("ra-secs")
    assert rec["state"] == "retrying" and rec["nextAttemptAt"] == rec["lastAttemptAt"] + 42_000
    assert "retry-after" in rec["reason"]
    env.cloud.advance(40)
    assert len(env.posts("ra-secs")) == 1  # not before the time the server asked for
    env.cloud.advance(10)
    assert env.record("ra-secs")["state"] == "delivered" and len(env.posts("ra-secs")) == 2


def test_429_retry_after_http_date(env: Env) -> None:
    now = env.cloud.now_ms()
    when = datetime.fromtimestamp(now // 1000 + 120, tz=timezone.utc)
    env.script.handlers["ra-date"] = sequence(Reply(429, {"Retry-After": format_datetime(when, usegmt=True)}), Reply(204))
    env.send("ra-date")
    rec = env.record("ra-date")
    assert 0 <= rec["nextAttemptAt"] - (now // 1000 + 120) * 1000 < 1000  # the date, not before it
    env.cloud.advance(100)
    assert len(env.posts("ra-date")) == 1
    env.cloud.advance(30)
    assert env.record("ra-date")["state"] == "delivered"


def _status(device: str, *states: str) -> Reply:
    return Reply(202, {"Location": f"/status/{device}/op1", "Retry-After": "10"}, '{"status": "Running"}')


def test_202_then_checks_until_succeeded(env: Env) -> None:
    env.script.handlers["ok202"] = lambda req: (
        _status("ok202") if req.method == "POST" else
        Reply(200, body='{"status": "Running"}') if len(env.gets("ok202")) < 2 else
        Reply(200, body='{"status": "Succeeded", "result": "x"}'))
    env.send("ok202")
    rec = env.record("ok202")
    assert rec["state"] == "pending" and rec["statusUrl"] == env.rx.base + "/status/ok202/op1"
    assert rec["nextAttemptAt"] == rec["lastAttemptAt"] + 10_000  # Retry-After of the 202
    assert env.gets("ok202") == []  # no check in the run that posted: a later event does it
    env.cloud.advance(10)
    rec = env.record("ok202")
    assert (rec["state"], rec["checks"]) == ("pending", 1)
    env.cloud.advance(15)  # poll schedule: 15 s before the second check
    rec = env.record("ok202")
    assert (rec["state"], rec["checks"], rec["attempts"]) == ("delivered", 2, 1)
    for get in env.gets("ok202"):
        assert get.headers["webhook-id"] == env.posts("ok202")[0].webhook_id
        assert_signed(SECRET, get)


def test_202_then_check_reports_failure(env: Env) -> None:
    env.script.handlers["fail202"] = lambda req: (
        _status("fail202") if req.method == "POST" else Reply(200, body='{"status": "Failed", "error": "disk full"}'))
    env.send("fail202")
    env.cloud.advance(10)
    rec = env.record("fail202")
    assert rec["state"] == "failed" and "remote operation failed" in rec["reason"] and "disk full" in rec["response"]


def test_202_that_never_finishes_expires_after_max_checks(env: Env) -> None:
    env.script.handlers["never202"] = lambda req: (
        _status("never202") if req.method == "POST" else Reply(202, body='{"status": "Running"}'))
    env.send("never202")
    env.cloud.advance(10 + 15 + 30)
    rec = env.record("never202")
    assert rec["state"] == "failed" and rec["reason"].startswith("expired") and rec["checks"] == 3
    env.cloud.advance(60)
    assert len(env.gets("never202")) == 3


def test_202_expires_by_age(env: Env) -> None:
    env.script.handlers["late202"] = lambda req: (
        Reply(202, {"Operation-Location": f"{env.rx.base}/status/late202/x", "Retry-After": "70"}) if req.method == "POST"
        else Reply(200, body='{"status": "InProgress"}'))
    env.send("late202")
    env.cloud.advance(75)
    rec = env.record("late202")
    assert rec["state"] == "failed" and rec["reason"].startswith("expired: pending since") and rec["checks"] == 1


def test_timeout_is_retried(env: Env) -> None:
    env.script.handlers["slow"] = sequence(Reply(201, delay=2.5), Reply(201))
    env.send("slow")
    rec = env.record("slow")
    assert rec["state"] == "retrying" and rec["lastStatus"] is None and "network error" in rec["reason"]
    env.cloud.advance(5)
    rec = env.record("slow")
    assert rec["state"] == "delivered" and rec["attempts"] == 2


@pytest.mark.parametrize("device,status", [("bad", 400), ("moved", 301)])
def test_permanent_failures(env: Env, device: str, status: int) -> None:
    env.script.handlers[device] = lambda req: Reply(status, {"Location": "https://elsewhere/"}, "x" * 2000)
    env.send(device)
    rec = env.record(device)
    assert rec["state"] == "failed" and rec["lastStatus"] == status and rec["nextAttemptAt"] is None
    assert rec["reason"] == f"permanent failure: status {status}"
    assert rec["response"].startswith("x" * 512) and rec["response"].endswith("[2000 chars]")
    env.cloud.advance(40)
    assert len(env.posts(device)) == 1


def test_gives_up_after_max_attempts(env: Env) -> None:
    env.script.handlers["giveup"] = lambda req: Reply(503)
    env.send("giveup")
    env.cloud.advance(5 + 30 + 5)
    rec = env.record("giveup")
    assert rec["state"] == "failed" and rec["attempts"] == 3 and rec["reason"].startswith("gave up after 3 attempts")
    assert len(env.posts("giveup")) == 3


def test_replay_of_a_failed_delivery(env: Env) -> None:
    env.script.handlers["replay"] = sequence(Reply(422, body="bad field"), Reply(201))
    env.send("replay")
    rec = env.record("replay")
    assert rec["state"] == "failed"
    out = subprocess.run([sys.executable, "-m", "edgehook", "deliveries", "replay", rec["recordId"]],
                         env={**os.environ, **env.cloud.env()}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "replay requested for 1 delivery" in out.stdout
    env.cloud.wait_idle(10)
    assert env.record("replay")["state"] == "retrying"
    env.cloud.advance(5)
    rec2 = env.record("replay")
    assert (rec2["state"], rec2["replays"], rec2["recordId"]) == ("delivered", 1, rec["recordId"])
    posts = env.posts("replay")
    assert len(posts) == 2 and posts[0].webhook_id == posts[1].webhook_id
    assert_signed(SECRET, posts[1])


def test_410_marks_the_endpoint_gone_until_enabled(env: Env) -> None:
    env.script.handlers["gone"] = sequence(Reply(410, body="unsubscribed"), Reply(201))
    env.send("gone", 1.0)
    assert env.record("gone")["reason"].startswith("endpoint gone (410)")
    env.send("gone", 2.0)
    env.cloud.advance(30)
    assert len(env.posts("gone")) == 1  # nothing more to that endpoint
    second = [r for r in records(env.client, "gone") if r["attempts"] == 0]
    assert len(second) == 1 and second[0]["state"] == "failed" and "gone" in second[0]["reason"]
    out = subprocess.run([sys.executable, "-m", "edgehook", "deliveries", "enable", "webhook"],
                         env={**os.environ, **env.cloud.env()}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    env.cloud.wait_idle(10)
    env.send("gone", 3.0)
    assert len(env.posts("gone")) == 2
    assert sorted(r["state"] for r in records(env.client, "gone")) == ["delivered", "failed", "failed"]


def test_bad_operator_commands_are_logged_not_run(env: Env) -> None:
    before = env.record("bad")
    sid = env.client.find_stream("/test/webhooks/commands")["id"]
    env.client.create_event(sid, {"command": "replay", "target": "x' || true || '"})
    env.client.create_event(sid, {"command": "explode"})
    env.cloud.wait_idle(10)
    control = next(a for a in env.client.list_objects("action") if a["description"] == "edgehook-control")
    runs = env.cloud.runs(control["id"])[-2:]
    assert [r["outcome"] for r in runs] == ["ok", "ok"]
    assert all(any("unknown command" in line for line in r["console"]) for r in runs)
    assert env.record("bad") == before


def test_every_request_of_this_module_is_signed(env: Env) -> None:
    assert len(env.rx.requests) > 25
    for req in env.rx.requests:  # posts and status checks alike, checked by the standardwebhooks library
        assert_signed(SECRET, req)
        assert req.verified is True
