"""A delivery survives a hanging endpoint (the post times out inside the run, recorded and
retried) and a run that dies mid-post (the record exists before any HTTP call)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from edgehook.bundle.receiver import Reply, WebhookReceiver
from edgehook.bundle.settings import new_secret
from tests.bundle.helpers import assert_signed, deploy, post_reading, records, sequence

SECRET = new_secret()


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (the cloud's QuickJS workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_a_hanging_endpoint_is_recorded_as_a_timeout_and_retried(local_cloud_factory: Callable) -> None:
    # the run limit (1 s) is below the HTTP limit (10 s): the post must end in time for the record
    cloud = local_cloud_factory(action_timeout=1.0, args=("--http-timeout", "10", "--disable-after", "2"))
    with WebhookReceiver(sequence(Reply(201, delay=3.0), Reply(201, delay=3.0), Reply(201, delay=3.0),
                                  Reply(201)), secret=SECRET) as rx:
        client = cloud.client()
        client.create_device("hang")
        deploy(client, {"webhook.url": rx.url, "webhook.secret": SECRET, "forward.streams": "env",
                        "task.period": "5", "policy.jitter": "0", "policy.retrySchedule": "5",
                        "policy.maxAttempts": "10"})
        post_reading(client, "hang", 1.0, cloud.now_ms() - 100)
        cloud.wait_idle(20)
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"], rec["lastStatus"]) == ("retrying", 1, None)
        assert "network error" in rec["reason"] and "timeout" in rec["reason"]
        deliver = next(a for a in client.list_objects("action") if a["description"] == "edgehook-deliver")
        assert [r["outcome"] for r in cloud.runs(deliver["id"])] == ["ok"]  # not killed
        cloud.advance(10)  # two task runs, each posting into the hang: more than --disable-after 2
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"]) == ("retrying", 3) and "timeout" in rec["reason"]
        task = client.list_objects("task")[0]
        assert [r["outcome"] for r in cloud.runs(task["id"], kind="task")] == ["ok", "ok"]
        assert client.get_object("task", task["id"])["disabled"] is False
        cloud.advance(5)
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"], rec["lastStatus"]) == ("delivered", 4, 201)
        posts = rx.posts()
        assert len(posts) == 4 and len({p.webhook_id for p in posts}) == 1
        for p in posts:
            assert_signed(SECRET, p)


def test_a_run_killed_while_posting_leaves_a_record_the_task_finishes(local_cloud_factory: Callable) -> None:
    cloud = local_cloud_factory(action_timeout=5.0, args=("--http-timeout", "10"))
    with WebhookReceiver(sequence(Reply(201, delay=8.0), Reply(201)), secret=SECRET) as rx:
        client = cloud.client()
        client.create_device("hang")
        deploy(client, {"webhook.url": rx.url, "webhook.secret": SECRET, "forward.streams": "env",
                        "task.period": "5", "policy.firstAttemptLease": "20"})
        post_reading(client, "hang", 1.0, cloud.now_ms() - 100)
        assert rx.wait_for(lambda reqs: len(reqs) == 1, 20)  # the first post is in flight ...
        for pid in _children(cloud.proc.pid):  # ... when the worker dies (as in a crash)
            os.kill(pid, signal.SIGKILL)
        cloud.wait_idle(20)
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"], rec["reason"]) == ("retrying", 0, "queued for the first attempt")
        deliver = next(a for a in client.list_objects("action") if a["description"] == "edgehook-deliver")
        (run,) = cloud.runs(deliver["id"])
        assert run["outcome"] == "error" and "worker process died" in run["error"]
        cloud.advance(10)
        assert len(rx.posts()) == 1  # the lease keeps the task away from a first attempt in flight
        cloud.advance(15)
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"]) == ("delivered", 1)
        posts = rx.posts()
        assert len(posts) == 2 and posts[0].webhook_id == posts[1].webhook_id
        for p in posts:
            assert_signed(SECRET, p)


def test_records_a_hang_left_no_time_for_stay_due_without_an_attempt(local_cloud_factory: Callable) -> None:
    cloud = local_cloud_factory(action_timeout=1.0, args=("--http-timeout", "10"))
    hang = {"on": True}
    with WebhookReceiver(lambda req: Reply(201, delay=3.0 if hang["on"] else 0.0), secret=SECRET) as rx:
        client = cloud.client()
        client.create_device("batch")
        deploy(client, {"webhook.url": rx.url, "webhook.secret": SECRET, "forward.streams": "env",
                        "task.period": "5", "policy.jitter": "0", "policy.retrySchedule": "5",
                        "policy.maxAttempts": "3"})
        t0 = cloud.now_ms()
        for i in range(3):
            post_reading(client, "batch", float(i), t0 - 1000 + i)
        cloud.wait_idle(20)
        assert sorted(r["attempts"] for r in records(client, "batch")) == [1, 1, 1]  # each first post timed out
        cloud.advance(5)  # one task run: the first post hangs, the two after it have no time left
        assert len(rx.posts()) == 4
        assert sorted(r["attempts"] for r in records(client, "batch")) == [1, 1, 2]
        assert all(r["state"] == "retrying" for r in records(client, "batch"))
        hang["on"] = False
        cloud.advance(5)
        recs = records(client, "batch")
        assert [r["state"] for r in recs] == ["delivered"] * 3  # none gave up after maxAttempts 3
        assert sorted(r["attempts"] for r in recs) == [2, 2, 3] and len(rx.posts()) == 7
