"""REST subset of the local cloud over real HTTP: envelope, auth, streams, events, devices."""

from __future__ import annotations

import requests


def _raw(cloud, method, path, **kw):
    headers = kw.pop("headers", {"X-Auth-User": cloud.user, "X-Auth-Token": cloud.token})
    return requests.request(method, f"{cloud.base_url}/{cloud.company}{path}", headers=headers, timeout=10, **kw)


def test_stream_and_event_round_trip(local_cloud_module):
    c = local_cloud_module.client()
    stream = c.create_stream(f"/{c.company}/rt", description="round trip")
    assert stream["id"].startswith("s") and len(stream["id"]) == 25
    ev = c.create_event(stream["id"], {"temp": 21.5}, generated_date=1234)
    assert ev["id"].startswith("e") and ev["streamId"] == stream["id"] and ev["path"] == stream["path"]
    assert ev["generatedDate"] == 1234 and ev["version"] == 0 and ev["elems"] == {"temp": 21.5}
    assert c.list_events(stream["id"]) == [ev]
    assert c.list_events(path=stream["path"]) == [ev]
    assert c.find_stream(stream["path"])["id"] == stream["id"]
    r = _raw(local_cloud_module, "GET", f"/event/{stream['id']}/{ev['id']}")
    assert r.status_code == 200 and r.json()["head"]["ok"] and r.json()["body"] == ev
