"""`edgehook deploy` and `edgehook deliveries` as a user runs them, against the real local cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from edgehook.bundle.receiver import Reply, WebhookReceiver
from edgehook.bundle.settings import new_secret
from tests.bundle.helpers import assert_signed, post_reading, records, sequence
from tests.fixtures.cloud import LocalCloud, start_local_cloud

SECRET = new_secret()


def run(cloud: LocalCloud, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **cloud.env(), **(env or {})}
    full.pop("EDGEHOOK_WEBHOOK_URL", None) if env is None else None
    return subprocess.run([sys.executable, "-m", "edgehook", *args], env=full, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(tmp_path_factory.mktemp("cloud"))
    cloud.client().create_device("b1")
    yield cloud
    cloud.stop()


def test_missing_endpoint_is_a_usage_error(cloud: LocalCloud) -> None:
    out = run(cloud, "deploy", env={"EDGEHOOK_WEBHOOK_URL": "", "EDGEHOOK_WEBHOOK_SECRET": ""})
    assert out.returncode == 1
    assert "edgehook: no webhook endpoint configured" in out.stderr and "hint: --set webhook.url" in out.stderr


def test_dry_run_then_deploy_then_nothing_to_do(cloud: LocalCloud) -> None:
    args = ("deploy", "--set", "webhook.url=http://127.0.0.1:9/hook", "--set", "forward.streams=env,io")
    env = {"EDGEHOOK_WEBHOOK_SECRET": SECRET}
    dry = run(cloud, *args, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would create  task   edgehook-deliveries" in dry.stdout and "nothing changed" in dry.stdout
    client = cloud.client()
    assert client.list_objects("action") == [] and client.find_stream("/test/webhooks/deliveries") is None
    first = run(cloud, *args, "--json", env=env)
    ops = {(c["kind"], c["name"]): c["op"] for c in json.loads(first.stdout)["changes"]}
    assert ops[("action", "edgehook-forward /test/devices/b1/env")] == "created"
    assert ops[("stream", "/test/webhooks/deliveries")] == "created" and set(ops.values()) == {"created"}
    again = run(cloud, *args, "--json", env=env)
    assert {c["op"] for c in json.loads(again.stdout)["changes"]} == {"unchanged"}
    for out in (dry, first, again):
        assert SECRET not in out.stdout + out.stderr  # never printed
    changed = run(cloud, *args, "--set", "task.period=7", env=env)
    assert "updated       task   edgehook-deliveries (period)" in changed.stdout
    assert "unchanged     action edgehook-forward /test/devices/b1/env" in changed.stdout
    task = next(t for t in client.list_objects("task") if t["description"] == "edgehook-deliveries")
    assert task["period"] == 7 and task["version"] == 1
    fewer = run(cloud, "deploy", "--set", "webhook.url=http://127.0.0.1:9/hook", "--set", "forward.streams=env",
                "--set", "task.period=7", env=env)
    assert "deleted       action edgehook-forward /test/devices/b1/io" in fewer.stdout
    names = sorted(a["description"] for a in client.list_objects("action"))
    assert names == ["edgehook-control", "edgehook-deliver", "edgehook-forward /test/devices/b1/env"]


def test_two_endpoints_with_different_outcomes(cloud: LocalCloud) -> None:
    second = new_secret()
    with WebhookReceiver(lambda r: Reply(201), secret=SECRET) as main, \
            WebhookReceiver(sequence(Reply(503, {"Retry-After": "3"}), Reply(200)), secret=second) as audit:
        out = run(cloud, "deploy", "--set", f"webhook.url={main.url}", "--set", f"audit.url={audit.url}",
                  "--set", f"audit.secret={second}", "--set", "forward.streams=env",
                  env={"EDGEHOOK_WEBHOOK_SECRET": SECRET})
        assert out.returncode == 0, out.stderr
        assert second not in out.stdout and SECRET not in out.stdout
        client = cloud.client()
        ts = cloud.now_ms() - 10
        post_reading(client, "b1", 5.5, ts)
        cloud.wait_idle(15)
        by_ep = {r["endpoint"]: r for r in records(client, "b1")}
        assert by_ep["webhook"]["state"] == "delivered" and by_ep["audit"]["state"] == "retrying"
        assert by_ep["webhook"]["webhookId"] == by_ep["audit"]["webhookId"]  # one message, two endpoints
        assert by_ep["webhook"]["hash"] != by_ep["audit"]["hash"]  # two records
        cloud.advance(5)
        assert {r["endpoint"]: r["state"] for r in records(client, "b1")} == {"webhook": "delivered", "audit": "delivered"}
        assert_signed(SECRET, main.posts()[0])
        for req in audit.posts():
            assert_signed(second, req)
        assert main.posts()[0].json()["timestamp"] == ts

        listed = run(cloud, "deliveries", "list", "--json")
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert {(r["endpoint"], r["state"]) for r in rows} == {("webhook", "delivered"), ("audit", "delivered")}
        table = run(cloud, "deliveries", "list", "--state", "delivered")
        assert "2 record(s)" in table.stdout
        for row in rows:  # whole ids, as `show` and `replay` take them, even through a pipe
            assert row["recordId"] in table.stdout and row["webhookId"] in table.stdout
        shown = run(cloud, "deliveries", "show", rows[0]["webhookId"])
        assert shown.stdout.count("record e") == 2 and "state          delivered" in shown.stdout
        missing = run(cloud, "deliveries", "show", "msg_nothing")
        assert missing.returncode == 1 and "no delivery record matches" in missing.stderr
        nothing = run(cloud, "deliveries", "replay", "--failed")
        assert nothing.returncode == 1 and "nothing to replay" in nothing.stderr


def test_tokens_in_the_url_are_not_printed(cloud: LocalCloud) -> None:
    out = run(cloud, "deploy", "--dry-run", "--set", "webhook.url=https://user:pw@h.example/in?token=s3cr3t",
              env={"EDGEHOOK_WEBHOOK_SECRET": SECRET})
    assert out.returncode == 0, out.stderr
    assert "https://h.example/in?…" in out.stdout
    assert "s3cr3t" not in out.stdout and "pw@" not in out.stdout and SECRET not in out.stdout
