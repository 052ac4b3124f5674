"""REST subset of the local cloud over real HTTP: envelope, auth, streams, events, devices,
objects, list parameters, hash idempotency and capacity eviction."""

from __future__ import annotations

import pytest
import requests

from edgehook.cloud.routes import ROUTES

ACTION_JS = "function(event) { return {}; }"


def _raw(cloud, method, path, auth=True, **kw):
    headers = {"X-Auth-User": cloud.user, "X-Auth-Token": cloud.token} if auth else {}
    return requests.request(method, f"{cloud.base_url}/{cloud.company}{path}", headers=headers, timeout=10, **kw)


def _envelope(resp, status):
    data = resp.json()
    assert resp.status_code == status == data["head"]["status"], data
    assert data["head"]["ok"] is (200 <= status < 300)
    assert set(data["head"]) == {"status", "ok", "messages", "errors", "references"}
    if status >= 400:
        assert data["head"]["errors"] and data["body"] is None
    return data["body"]


@pytest.fixture(scope="module")
def cloud(local_cloud_module):
    return local_cloud_module


def test_stream_and_event_round_trip(cloud):
    c = cloud.client()
    stream = c.create_stream(f"/{c.company}/rt", description="round trip")
    assert stream["id"].startswith("s") and len(stream["id"]) == 25
    ev = c.create_event(stream["id"], {"temp": 21.5}, generated_date=1234)
    assert ev["id"].startswith("e") and len(ev["id"]) == 25
    assert ev["streamId"] == stream["id"] and ev["path"] == stream["path"]
    assert ev["generatedDate"] == 1234 and ev["version"] == 0 and ev["elems"] == {"temp": 21.5}
    assert ev["creationDate"] == cloud.now_ms()  # manual clock: stands still
    assert c.list_events(stream["id"]) == [ev]
    assert c.list_events(path=stream["path"]) == [ev]
    assert c.find_stream(stream["path"])["id"] == stream["id"]
    assert _envelope(_raw(cloud, "GET", f"/event/{stream['id']}/{ev['id']}"), 200) == ev
    ev2 = _envelope(_raw(cloud, "POST", "/event", json={"path": stream["path"], "elems": {"b": 1}}), 201)
    assert ev2["generatedDate"] == ev2["creationDate"] and ev2["streamId"] == stream["id"]


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
def test_every_route_needs_auth(cloud, spec):
    path = spec.path.replace("/v5.0/{company}", "")
    for name in ("id", "streamId", "eventId"):
        path = path.replace("{" + name + "}", "x1")
    body = _envelope(_raw(cloud, spec.method, path, auth=False, json={}), 403)
    assert body is None
    wrong = requests.request(spec.method, f"{cloud.base_url}/{cloud.company}{path}", timeout=10,
                             headers={"X-Auth-User": cloud.user, "X-Auth-Token": "wrong"})
    _envelope(wrong, 403)


def test_other_company_and_unknown_endpoint(cloud):
    r = requests.get(f"{cloud.base_url}/other/stream", timeout=10,
                     headers={"X-Auth-User": cloud.user, "X-Auth-Token": cloud.token})
    _envelope(r, 403)
    assert "other" in r.json()["head"]["errors"][0]
    _envelope(_raw(cloud, "GET", "/nothing-here"), 404)
    _envelope(_raw(cloud, "PATCH", "/stream"), 405)


def test_openapi_document(cloud):
    doc = requests.get(cloud.base_url.replace("/v5.0", "/openapi.json"), timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/v5.0/{company}/event/{streamId}"]
    assert doc["paths"]["/v5.0/{company}/action/{id}/runs"]["get"]["x-edgehook-extension"] is True


@pytest.mark.parametrize(
    "method,path,body,message",
    [
        ("POST", "/stream", {"path": "/elsewhere/x"}, "path must be"),
        ("POST", "/stream", {"path": "/test/a b"}, "bad stream path"),
        ("POST", "/stream", {"path": "/test/cap", "capacity": 100001}, "capacity"),
        ("POST", "/stream", [1, 2], "JSON object"),
        ("POST", "/action", {"source": "/test/x"}, "`js`"),
        ("POST", "/action", {"source": "x", "js": ACTION_JS}, "source must start"),
        ("POST", "/action", {"source": "/test/x", "js": "function(e) { let a = 1; }"}, "line 1, column 15"),
        ("POST", "/action", {"source": "/test/x", "js": ACTION_JS, "filter": "a >"}, "position 3"),
        ("POST", "/task", {"js": "function() {}", "period": 0}, "period"),
        ("POST", "/device", {"name": "bad name"}, "name"),
    ],
)
def test_bad_requests_are_400_with_reason(cloud, method, path, body, message):
    r = _raw(cloud, method, path, json=body)
    _envelope(r, 400)
    assert message in r.json()["head"]["errors"][0]


def test_bad_event_bodies(cloud):
    stream = cloud.client().create_stream(f"/{cloud.company}/badev")
    for body, why in [({"elems": 3}, "elems"), ({}, "elems"), ({"elems": {}, "hash": 5}, "hash"),
                      ({"elems": {}, "generatedDate": "x"}, "generatedDate")]:
        r = _raw(cloud, "POST", f"/event/{stream['id']}", json=body)
        _envelope(r, 400)
        assert why in r.json()["head"]["errors"][0]
    r = _raw(cloud, "POST", f"/event/{stream['id']}", data=b"{not json")
    _envelope(r, 400)
    r = _raw(cloud, "POST", f"/event/{stream['id']}", data=b" " * (4 * 1024 * 1024 + 1))
    _envelope(r, 413)
    _envelope(_raw(cloud, "POST", "/event/s000", json={"elems": {}}), 404)
    _envelope(_raw(cloud, "GET", f"/event/{stream['id']}/e000"), 404)
    _envelope(_raw(cloud, "GET", "/event"), 400)
    _envelope(_raw(cloud, "GET", "/event", params={"path": "/test/none"}), 404)
    assert cloud.client().list_events(stream["id"]) == []  # nothing stored by the refusals


def test_stream_update_delete_and_conflict(cloud):
    c = cloud.client()
    s = c.create_stream(f"/{cloud.company}/upd", capacity=5)
    _envelope(_raw(cloud, "POST", "/stream", json={"path": s["path"]}), 409)
    up = c.update_object("stream", s["id"], {"description": "new", "capacity": 7})
    assert (up["description"], up["capacity"], up["version"]) == ("new", 7, 1)
    _envelope(_raw(cloud, "PUT", f"/stream/{s['id']}", json={"path": "/test/other"}), 400)
    c.create_event(s["id"], {"x": 1})
    c.delete_object("stream", s["id"])
    _envelope(_raw(cloud, "GET", f"/stream/{s['id']}"), 404)
    assert c.find_stream(s["path"]) is None


def test_pagination_sort_order_only_filter(cloud):
    c = cloud.client()
    s = c.create_stream(f"/{cloud.company}/page")
    for i in range(25):
        c.create_event(s["id"], {"n": i, "odd": i % 2 == 1}, generated_date=1000 - i)
    newest_first = c.list_events(s["id"], limit=100)
    assert [e["elems"]["n"] for e in newest_first] == list(range(24, -1, -1))
    assert len(c.list_events(s["id"])) == 20  # default limit
    page = c.list_events(s["id"], start=5, limit=5, order="asc")
    assert [e["elems"]["n"] for e in page] == [5, 6, 7, 8, 9]
    by_gen = c.list_events(s["id"], sort="generatedDate", order="asc", limit=3)
    assert [e["elems"]["n"] for e in by_gen] == [24, 23, 22]
    by_elem = c.list_events(s["id"], sort="elems.n", order="desc", limit=2, filter="elems.odd == true")
    assert [e["elems"]["n"] for e in by_elem] == [23, 21]
    only = c.list_events(s["id"], limit=1, only="id,elems.n")
    assert set(only[0]) == {"id", "elems"} and only[0]["elems"] == {"n": 24}
    mod = c.list_events(s["id"], limit=100, filter="elems.n % 10 == 0 && elems.n IN [0, 20]")
    assert sorted(e["elems"]["n"] for e in mod) == [0, 20]
    for params, why in [({"limit": 0}, "limit"), ({"start": -1}, "start"), ({"order": "up"}, "order"),
                        ({"limit": "x"}, "limit"), ({"filter": "elems.n >> 2"}, "position 9")]:
        r = _raw(cloud, "GET", f"/event/{s['id']}", params=params)
        _envelope(r, 400)
        assert why in r.json()["head"]["errors"][0]


def test_hash_rest_create_is_idempotent(cloud):
    c = cloud.client()
    s = c.create_stream(f"/{cloud.company}/hash")
    r1 = _raw(cloud, "POST", f"/event/{s['id']}", json={"elems": {"v": 1}, "hash": "k1"})
    first = _envelope(r1, 201)
    r2 = _raw(cloud, "POST", f"/event/{s['id']}", json={"elems": {"v": 2}, "hash": "k1"})
    assert _envelope(r2, 200) == first  # the stored event, unchanged
    other = _envelope(_raw(cloud, "POST", f"/event/{s['id']}", json={"elems": {"v": 3}, "hash": "k2"}), 201)
    assert other["id"] != first["id"]
    events = c.list_events(s["id"], filter="hash=='k1'")
    assert [e["elems"] for e in events] == [{"v": 1}]
    s2 = c.create_stream(f"/{cloud.company}/hash2")  # hash is per stream
    assert _envelope(_raw(cloud, "POST", f"/event/{s2['id']}", json={"elems": {}, "hash": "k1"}), 201)


def test_capacity_evicts_oldest_first_and_counts(cloud):
    c = cloud.client()
    s = c.create_stream(f"/{cloud.company}/cap", capacity=3)
    for i in range(5):
        c.create_event(s["id"], {"i": i})
    assert [e["elems"]["i"] for e in c.list_events(s["id"], order="asc")] == [2, 3, 4]
    assert c.get_object("stream", s["id"])["evicted"] == 2
    c.update_object("stream", s["id"], {"capacity": 1})
    assert [e["elems"]["i"] for e in c.list_events(s["id"])] == [4]
    assert c.get_object("stream", s["id"])["evicted"] == 4
    zero = c.create_stream(f"/{cloud.company}/cap0", capacity=0)
    ev = c.create_event(zero["id"], {"i": 1})
    assert ev["id"] and c.list_events(zero["id"]) == []


def test_devices_create_streams_and_tags(cloud):
    c = cloud.client()
    dev = _envelope(_raw(cloud, "POST", "/device", json={"name": "dev1", "tags": {"site": "a"}}), 201)
    assert dev["id"].startswith("d") and dev["name"] == "dev1"
    for suffix in (":inbox", ":command", ":default"):
        assert c.find_stream(f"/{cloud.company}/devices/dev1/{suffix}") is not None
    assert c.get_device("dev1")["id"] == dev["id"] == c.get_device(dev["id"])["id"]
    assert c.get_device("nobody") is None
    _envelope(_raw(cloud, "POST", "/device", json={"name": "dev1"}), 409)
    temp = c.create_stream(f"/{cloud.company}/devices/dev1/temp")
    assert c.create_event(temp["id"], {"t": 1})["tags"] == {"site": "a"}
    assert [d["name"] for d in c.list_objects("device")] == ["dev1"]


def test_action_and_task_crud_versions(cloud):
    c = cloud.client()
    a = c.create_object("action", {"source": f"/{cloud.company}/nowhere", "js": ACTION_JS, "description": "d"})
    assert a["id"].startswith("a") and a["version"] == 0 and a["disabled"] is False
    a2 = c.update_object("action", a["id"], {"description": "e"})
    assert a2["version"] == 1 and a2["description"] == "e" and a2["js"] == ACTION_JS
    assert c.get_object("action", a["id"]) == a2
    assert a["id"] in [x["id"] for x in c.list_objects("action")]
    r = _raw(cloud, "PUT", f"/action/{a['id']}", json={"js": "function(e) { return () => 1; }"})
    _envelope(r, 400)
    assert c.get_object("action", a["id"])["version"] == 1  # refused update changed nothing
    t = c.create_object("task", {"js": "function() { return null; }", "period": 60})
    assert t["id"].startswith("t") and c.update_object("task", t["id"], {"period": 30})["version"] == 1
    assert c.delete_object("task", t["id"])["id"] == t["id"]
    c.delete_object("action", a["id"])
    _envelope(_raw(cloud, "GET", f"/action/{a['id']}"), 404)
    _envelope(_raw(cloud, "GET", f"/action/{a['id']}/runs"), 404)
