"""Reading delivery records on the host: stuck detection, argument checks, counts."""

from __future__ import annotations

import pytest

from edgehook.bundle.deliveries import (
    counts,
    enable_endpoint,
    find_deliveries,
    list_deliveries,
    replay,
    stuck,
)
from edgehook.bundle.demo import events_ingested
from edgehook.errors import UsageError

NOW = 1_800_000_000_000


def test_stuck_records_are_the_overdue_pending_and_retrying_ones() -> None:
    recs = [
        {"recordId": "a", "state": "retrying", "nextAttemptAt": NOW - 600_000},
        {"recordId": "b", "state": "pending", "nextAttemptAt": NOW - 121_000},
        {"recordId": "c", "state": "retrying", "nextAttemptAt": NOW - 5_000},  # just due: the task comes
        {"recordId": "d", "state": "failed", "nextAttemptAt": None},
        {"recordId": "e", "state": "delivered", "nextAttemptAt": None},
    ]
    assert [r["recordId"] for r in stuck(recs, now_ms=NOW)] == ["a", "b"]
    assert [r["recordId"] for r in stuck(recs, now_ms=NOW, grace_s=1)] == ["a", "b", "c"]


def test_bad_arguments_fail_before_any_request() -> None:
    client = object()  # never used: the checks come first
    with pytest.raises(UsageError, match="unknown state"):
        list_deliveries(client, state="lost")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="bad delivery id"):
        find_deliveries(client, "x' || true")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="one delivery id or --failed"):
        replay(client, None, failed=False)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="one delivery id or --failed"):
        replay(client, "e1", failed=True)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="bad endpoint name 'x y'"):
        enable_endpoint(client, "x y")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="bad endpoint name"):
        list_deliveries(client, endpoint="a'b")  # type: ignore[arg-type]


def test_events_ingested_counts_what_capacity_evicted(local_cloud) -> None:
    client = local_cloud.client()
    stream = client.create_stream("/test/devices/d/env", capacity=2)
    for i in range(5):
        client.create_event(stream["id"], {"env": {"temp": i}})
    assert len(client.list_events(stream_id=stream["id"], limit=100)) == 2  # the cloud keeps two
    assert events_ingested(client, ["/test/devices/d/env", "/test/devices/d/none"]) == 5


def test_counts_reads_only_the_states(local_cloud) -> None:
    client = local_cloud.client()
    stream = client.create_stream("/test/webhooks/deliveries")
    for state in ("delivered", "failed", "delivered"):
        client.create_event(stream["id"], {"state": state, "body": "x" * 1000})
    assert counts(client) == {"delivered": 2, "failed": 1}
