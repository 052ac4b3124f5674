"""Cloud Action runtime and tasks over real HTTP, real QuickJS workers and a real webhook sink."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.cloud import start_local_cloud

CO = "rt"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = start_local_cloud(tmp_path_factory.mktemp("rtcloud"), company=CO, action_timeout=1.5,
                          args=("--disable-after", "3", "--http-timeout", "1"))
    yield c
    c.stop()


def _js(text, **values):
    """JavaScript source with <NAME> markers replaced (JS braces stay readable)."""
    for name, value in values.items():
        text = text.replace(f"<{name}>", value)
    return text


def _setup(cloud, name, js, extra_streams=(), **action):
    c = cloud.client()
    src = c.create_stream(f"/{CO}/{name}/in")
    for s in extra_streams:
        c.create_stream(f"/{CO}/{name}/{s}")
    act = c.create_object("action", {"source": src["path"], "js": js, **action})
    return c, src, act


def _elems(c, path, **kw):
    return [e["elems"] for e in c.list_events(path=path, order="asc", limit=1000, **kw)]


def test_webhook_action_in_the_seed_shape(cloud, sink):
    js = _js("""function(event) {
  var res = Octave.Http.post("<URL>/status/201",
      {"Content-Type": "application/json", "X-Api-Key": "k-123"}, JSON.stringify(event));
  console.log("status", res.status);
  if (res.status !== 201) { throw new Error("webhook said " + res.status); }
  var out = {};
  out["/" + event.path.split("/")[1] + "/hook/results"] = [{"elems": {"status": res.status,
      "id": JSON.parse(res.content).id, "ct": res.headers["content-type"]}}];
  return out;
}""", URL=sink.url)
    c, src, act = _setup(cloud, "hook", js, ["results"])
    ev = c.create_event(src["id"], {"temp": 22.5, "unit": "C"}, generated_date=1700000000000)
    cloud.wait_idle()
    index, got = [(i, r) for i, r in enumerate(sink.requests) if r["path"] == "/status/201"][-1]
    assert got["method"] == "POST"
    assert got["headers"]["Content-Type"] == "application/json" and got["headers"]["X-Api-Key"] == "k-123"
    assert json.loads(got["body"]) == ev  # the event exactly as stored
    results = _elems(c, f"/{CO}/hook/results")
    assert results == [{"status": 201, "id": index + 1, "ct": "application/json"}]
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "ok" and run["eventId"] == ev["id"] and run["error"] is None
    assert run["console"] == ["status 201"]
    assert [(h["method"], h["url"], h["status"]) for h in run["http"]] == [("POST", f"{sink.url}/status/201", 201)]
    assert run["http"][0]["latency_ms"] >= 0 and run["routed"] == {"created": 1, "updated": 0}


def test_http_results_headers_and_network_errors(cloud, sink):
    js = _js("""function(event) {
  var r = Octave.Http.get("<URL>/status/202");
  var d = Octave.Http["delete"]("<URL>/status/410", {});
  var p = Octave.Http.put("<URL>/status/503", {"Content-Type": "text/plain"}, "raw");
  var caught = null;
  try { Octave.Http.get("http://127.0.0.1:9/x"); } catch (e) {
    caught = {isOctave: e instanceof Octave.Error, message: e.message, n: e.details.length};
  }
  return {"/<CO>/http/out": [{"elems": {"s": [r.status, d.status, p.status], "retry": r.headers["retry-after"],
    "type": typeof r.content, "caught": caught}}]};
}""", URL=sink.url, CO=CO)
    c, src, act = _setup(cloud, "http", js, ["out"])
    c.create_event(src["id"], {})
    cloud.wait_idle()
    (out,) = _elems(c, f"/{CO}/http/out")
    assert out["s"] == [202, 410, 503] and out["retry"] == "30" and out["type"] == "string"
    assert out["caught"]["isOctave"] is True and "failed" in out["caught"]["message"] and out["caught"]["n"] == 1
    assert sink.requests[-1]["body"] == "raw" and sink.requests[-1]["method"] == "PUT"
    (run,) = cloud.runs(act["id"])
    assert [h["status"] for h in run["http"]] == [202, 410, 503, None]
    assert run["http"][3]["error"] == "ConnectionError"


def test_uncaught_octave_error_fails_the_run(cloud):
    js = 'function(event) { Octave.Http.get("http://127.0.0.1:9/"); return {}; }'
    c, src, act = _setup(cloud, "neterr", js)
    c.create_event(src["id"], {})
    cloud.wait_idle()
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "error" and run["error"].startswith("Octave.Error: HTTP GET")
    assert run["details"]


def test_event_lookups_and_hash_update_by_return(cloud):
    js = _js("""function(event) {
  var recs = "/<CO>/rec/records";
  var old = Octave.Event.findHash(recs, event.elems.key);
  var n = old ? old.elems.n + 1 : 1;
  var big = Octave.Event.find(event.streamId, {filter: "elems.v > 1", sort: "elems.v", order: "asc"});
  var one = Octave.Event.findOne(event.streamId, {filter: "elems.v == 1"});
  var got = Octave.Event.get(event.streamId, event.id);
  var s = Octave.Stream.get(event.streamId);
  var multi = Octave.Event.multifind([{streamId: event.streamId, params: {limit: 1}}, {path: recs, params: {}}]);
  return {"/<CO>/rec/records": [{"hash": event.elems.key, "elems": {"n": n,
      "big": big.length, "one": one ? one.elems.v : null, "same": got.id === event.id,
      "stream": s.path, "multi": [multi[0].length, multi[1].length]}}]};
}""", CO=CO)
    c, src, act = _setup(cloud, "rec", js, ["records"])
    for v in (1, 2, 3):
        c.create_event(src["id"], {"key": "k1", "v": v})
        cloud.wait_idle()
    recs = c.list_events(path=f"/{CO}/rec/records")
    assert len(recs) == 1 and recs[0]["hash"] == "k1" and recs[0]["version"] == 2
    assert recs[0]["elems"] == {"n": 3, "big": 2, "one": 1, "same": True, "stream": src["path"], "multi": [1, 1]}
    assert [r["routed"] for r in cloud.runs(act["id"])] == [
        {"created": 1, "updated": 0}, {"created": 0, "updated": 1}, {"created": 0, "updated": 1}]


def test_bad_returns_fail_the_run_and_write_nothing(cloud):
    cases = [
        (_js('return {"/<CO>/bad/out": [{"elems": {"a": 1}}], "/<CO>/nope": [{"elems": {}}]};', CO=CO),
         "is not an existing stream path"),
        (_js('return {"/<CO>/bad/out": [{"value": 1}]};', CO=CO), "must have `elems` with Object type"),
        (_js('return {"/<CO>/bad/out": {"elems": {}}};', CO=CO), "must be an array"),
        ("return 5;", "must be an object"),
    ]
    c = cloud.client()
    c.create_stream(f"/{CO}/bad/out")
    for i, (body, message) in enumerate(cases):
        src = c.create_stream(f"/{CO}/bad/in{i}")
        act = c.create_object("action", {"source": src["path"], "js": "function(event) { " + body + " }"})
        c.create_event(src["id"], {})
        cloud.wait_idle()
        (run,) = cloud.runs(act["id"])
        assert run["outcome"] == "error" and message in run["error"], run
    assert _elems(c, f"/{CO}/bad/out") == []


def test_chains_and_the_loop_limit(cloud):
    c = cloud.client()
    for s in ("a", "b", "c", "loop"):
        c.create_stream(f"/{CO}/chain/{s}")
    route = 'function(event) { return {"/<CO>/chain/<TO>": [{"elems": {"n": (event.elems.n || 0) + 1}}]}; }'
    c.create_object("action", {"source": f"/{CO}/chain/a", "js": _js(route, CO=CO, TO="b")})
    c.create_object("action", {"source": f"/{CO}/chain/b", "js": _js(route, CO=CO, TO="c")})
    loop = c.create_object("action", {"source": f"/{CO}/chain/loop", "js": _js(route, CO=CO, TO="loop")})
    c.create_event(c.find_stream(f"/{CO}/chain/a")["id"], {"n": 0})
    c.create_event(c.find_stream(f"/{CO}/chain/loop")["id"], {"n": 0})
    cloud.wait_idle()
    assert _elems(c, f"/{CO}/chain/c") == [{"n": 2}]
    assert [e["n"] for e in _elems(c, f"/{CO}/chain/loop")] == list(range(10))  # 1 + 9 routed (depth 8)
    runs = cloud.runs(loop["id"])
    assert len(runs) == 9 and all(r["outcome"] == "ok" for r in runs)
    assert "depth limit 8" in runs[-1]["warnings"][0]


def test_runs_keep_event_order_per_stream(cloud):
    js = _js('function(event) { return {"/<CO>/order/out": [{"elems": {"n": event.elems.n}}]}; }', CO=CO)
    c, src, _ = _setup(cloud, "order", js, ["out"])
    for n in range(20):
        c.create_event(src["id"], {"n": n})
    cloud.wait_idle()
    assert [e["n"] for e in _elems(c, f"/{CO}/order/out")] == list(range(20))


def test_action_filter_tag_source_and_device_name(cloud):
    c = cloud.client()
    c.create_device("tagged")
    c.update_object("device", "tagged", {"tags": {"site": "north"}})
    c.create_device("untagged")
    out = c.create_stream(f"/{CO}/tags/out")
    js = _js('function(event) { return {"<OUT>": [{"elems": {"dev": Octave.Device.getName(), '
          '"t": event.elems.t, "tags": event.tags}}]}; }', OUT=out["path"])
    c.create_object("action", {"source": "@site=north/temp", "js": js, "filter": "elems.t > 10"})
    for dev in ("tagged", "untagged"):
        s = c.create_stream(f"/{CO}/devices/{dev}/temp")
        c.create_event(s["id"], {"t": 5})
        c.create_event(s["id"], {"t": 15})
    cloud.wait_idle()
    assert _elems(c, out["path"]) == [{"dev": "tagged", "t": 15, "tags": {"site": "north"}}]


def test_infinite_loop_and_allocation_bomb_fail_only_their_run(cloud):
    c = cloud.client()
    spin = _setup(cloud, "spin", "function(event) { while (true) {} }")
    bomb = _setup(cloud, "bomb", "function(event) { var a = []; while (true) { a.push(new Array(100000)); } }")
    strbomb = _setup(cloud, "strbomb", "function(event) { var s = 'x'; while (true) { s = s + s; } }")
    deep = _setup(cloud, "deep", "function(event) { function f(n) { return f(n + 1) + 1; } return f(0); }")
    ok = _setup(cloud, "after", _js('function(event) { return {"/<CO>/after/out": [{"elems": {"ok": 1}}]}; }', CO=CO),
                ["out"])
    for _, src, _ in (spin, bomb, strbomb, deep):
        c.create_event(src["id"], {})
    assert c.list_objects("stream", limit=1)  # the server keeps serving while runs misbehave
    c.create_event(ok[1]["id"], {})
    cloud.wait_idle(timeout=20)
    (spin_run,) = cloud.runs(spin[2]["id"])
    assert spin_run["outcome"] == "timeout" and "time limit of 1.5 s" in spin_run["error"]
    assert 1500 <= spin_run["duration_ms"] < 5000
    (bomb_run,) = cloud.runs(bomb[2]["id"])
    assert bomb_run["outcome"] == "error" and "out of memory" in bomb_run["error"]
    (str_run,) = cloud.runs(strbomb[2]["id"])
    assert str_run["outcome"] == "error" and "out of memory" in str_run["error"]
    (deep_run,) = cloud.runs(deep[2]["id"])
    assert deep_run["outcome"] == "error" and "stack overflow" in deep_run["error"]
    assert _elems(c, f"/{CO}/after/out") == [{"ok": 1}]


def test_auto_disable_after_consecutive_failures(cloud):
    c, src, act = _setup(cloud, "flaky", 'function(event) { throw new Error("broken " + event.elems.i); }')
    inbox = f"/{CO}/:inbox/cloud-actions"
    for i in range(4):
        c.create_event(src["id"], {"i": i})
    cloud.wait_idle()
    runs = cloud.runs(act["id"])
    assert len(runs) == 3 and all(r["outcome"] == "error" for r in runs)  # the 4th did not run
    assert c.get_object("action", act["id"])["disabled"] is True
    notices = [e for e in _elems(c, inbox) if e["sourceId"] == act["id"]]
    assert len(notices) == 1 and notices[0]["action"] == "DISABLE"
    assert "3 consecutive failed runs" in notices[0]["details"]["message"]
    assert notices[0]["details"]["lastErrors"] == ["Error: broken 2", "Error: broken 1", "Error: broken 0"]
    c.update_object("action", act["id"], {"disabled": False, "js": "function(event) { return {}; }"})
    c.create_event(src["id"], {"i": 9})
    cloud.wait_idle()
    assert cloud.runs(act["id"])[-1]["outcome"] == "ok"


def test_tasks_fire_on_the_manual_clock(cloud):
    c = cloud.client()
    out = c.create_stream(f"/{CO}/task/ticks")
    js = _js('function() { return {"<OUT>": [{"elems": {"now": Date.now(), "d": new Date().getTime()}}]}; }',
             OUT=out["path"])
    t0 = cloud.now_ms()
    task = c.create_object("task", {"js": js, "period": 60})
    assert cloud.advance(59)["taskRuns"] == 0 and _elems(c, out["path"]) == []
    assert cloud.advance(1)["taskRuns"] == 1
    assert _elems(c, out["path"]) == [{"now": t0 + 60000, "d": t0 + 60000}]
    assert cloud.advance(185)["taskRuns"] == 3
    assert [e["now"] for e in _elems(c, out["path"])] == [t0 + 60000 * k for k in (1, 2, 3, 4)]
    assert cloud.now_ms() == t0 + 245000
    runs = cloud.runs(task["id"], kind="task")
    assert [r["start"] for r in runs] == [t0 + 60000 * k for k in (1, 2, 3, 4)]
    c.update_object("task", task["id"], {"disabled": True})
    assert cloud.advance(600)["taskRuns"] == 0


def test_http_call_timeout_throws_octave_error(cloud, sink):
    js = _js("""function(event) {
  try { Octave.Http.get("<URL>/sleep/3"); } catch (e) { return {"/<CO>/slow/out": [{"elems": {"m": e.message}}]}; }
  return {};
}""", URL=sink.url, CO=CO)
    c, src, act = _setup(cloud, "slow", js, ["out"])
    c.create_event(src["id"], {})
    cloud.wait_idle()
    (out,) = _elems(c, f"/{CO}/slow/out")
    assert "ReadTimeout" in out["m"]
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "ok" and run["http"][0]["error"] == "ReadTimeout"
    assert run["http"][0]["timeout_s"] <= 1  # --http-timeout 1, within the run's 1.5 s
    assert run["http"][0]["latency_ms"] >= run["http"][0]["timeout_s"] * 1000 - 1
