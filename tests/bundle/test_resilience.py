"""A delivery survives a run that dies mid-post: the record exists before any HTTP call."""

from __future__ import annotations

from collections.abc import Callable

from edgehook.bundle.receiver import Reply, WebhookReceiver
from edgehook.bundle.settings import new_secret
from tests.bundle.helpers import assert_signed, deploy, post_reading, records, sequence

SECRET = new_secret()


def test_a_run_killed_while_posting_leaves_a_record_the_task_finishes(local_cloud_factory: Callable) -> None:
    cloud = local_cloud_factory(action_timeout=1.0, args=("--http-timeout", "10"))
    with WebhookReceiver(sequence(Reply(201, delay=3.0), Reply(201)), secret=SECRET) as rx:
        client = cloud.client()
        client.create_device("hang")
        deploy(client, {"webhook.url": rx.url, "webhook.secret": SECRET, "forward.streams": "env",
                        "task.period": "5", "policy.firstAttemptLease": "20"})
        post_reading(client, "hang", 1.0, cloud.now_ms() - 100)
        cloud.wait_idle(20)
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"], rec["reason"]) == ("retrying", 0, "queued for the first attempt")
        deliver = next(a for a in client.list_objects("action") if a["description"] == "edgehook-deliver")
        assert [r["outcome"] for r in cloud.runs(deliver["id"])] == ["timeout"]  # the run died mid-post
        cloud.advance(10)
        assert len(rx.posts()) == 1  # the lease keeps the task away from a first attempt in flight
        cloud.advance(15)
        (rec,) = records(client, "hang")
        assert (rec["state"], rec["attempts"]) == ("delivered", 1)
        posts = rx.posts()
        assert len(posts) == 2 and posts[0].webhook_id == posts[1].webhook_id
        for p in posts:
            assert_signed(SECRET, p)
