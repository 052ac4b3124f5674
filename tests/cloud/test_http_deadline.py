"""Octave.Http calls end before the run's deadline: a hanging endpoint throws Octave.Error in time
for the script to handle it, and the optional per-call timeout (an extension)."""

from __future__ import annotations

import pytest

from edgehook.cloud.worker import call_timeout
from tests.fixtures.cloud import start_local_cloud

CO = "hd"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    # a run limit below the per-call default: before the margin, a hanging call ate the whole run
    c = start_local_cloud(tmp_path_factory.mktemp("hdcloud"), company=CO, action_timeout=1.0,
                          args=("--disable-after", "3", "--http-timeout", "10"))
    yield c
    c.stop()


def _action(cloud, name, js):
    c = cloud.client()
    src = c.create_stream(f"/{CO}/{name}/in")
    c.create_stream(f"/{CO}/{name}/out")
    act = c.create_object("action", {"source": src["path"], "js": js.replace("<OUT>", f"/{CO}/{name}/out")})
    c.create_event(src["id"], {})
    cloud.wait_idle()
    return c, act


def _out(c, name):
    return [e["elems"] for e in c.list_events(path=f"/{CO}/{name}/out", order="asc", limit=100)]


def _hits(sink, path):
    return sum(1 for r in sink.requests if r["path"] == path)


def test_call_timeout_keeps_a_margin_and_clamps_to_the_run_limit():
    assert call_timeout(None, 15, 5, 5) == pytest.approx(4.5)  # margin 0.5 s
    assert call_timeout(None, 15, 60, 20) == pytest.approx(14)  # margin 10 % of the limit
    assert call_timeout(2, 15, 60, 60) == 2  # the script's own timeout
    assert call_timeout(30, 15, 60, 60) == 15  # never beyond --http-timeout
    assert call_timeout(100, 200, 60, 1000) == 60  # nor beyond the run limit
    assert call_timeout(None, 1, 5, 5) == 1  # --http-timeout below the run limit
    assert call_timeout(None, 15, 5, 0.52) == 0.0  # too little left: not started
    assert call_timeout(None, 15, 5, -1) == 0.0


def test_a_hanging_post_throws_in_time_and_the_run_succeeds(cloud, sink):
    js = """function(event) {
  try { Octave.Http.post("<URL>/sleep/3/post", {"Content-Type": "text/plain"}, "x"); }
  catch (e) { return {"<OUT>": [{"elems": {"m": e.message, "octave": e instanceof Octave.Error}}]}; }
  return {};
}""".replace("<URL>", sink.url)
    c, act = _action(cloud, "hang", js)
    (out,) = _out(c, "hang")
    assert out["octave"] is True and "timeout" in out["m"] and "ReadTimeout" in out["m"]
    assert out["m"].startswith(f"HTTP POST {sink.url}/sleep/3/post failed")
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "ok" and run["routed"] == {"created": 1, "updated": 0}
    (call,) = run["http"]
    assert call["error"] == "ReadTimeout" and 0 < call["timeout_s"] <= 0.5  # 1 s run - 0.5 s margin
    assert call["latency_ms"] >= call["timeout_s"] * 1000 - 1


def test_a_call_with_no_time_left_is_not_started(cloud, sink):
    js = """function(event) {
  var m = [];
  try { Octave.Http.get("<URL>/sleep/3/first"); } catch (e) { m.push(e.message); }
  try { Octave.Http.get("<URL>/sleep/3/second"); } catch (e) { m.push(e.message); }
  return {"<OUT>": [{"elems": {"m": m}}]};
}""".replace("<URL>", sink.url)
    c, act = _action(cloud, "twice", js)
    (out,) = _out(c, "twice")
    assert "timeout after" in out["m"][0]
    assert out["m"][1].startswith(f"HTTP GET {sink.url}/sleep/3/second not started: timeout")
    assert _hits(sink, "/sleep/3/first") == 1 and _hits(sink, "/sleep/3/second") == 0
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "ok"
    assert [(h["error"], h["timeout_s"]) for h in run["http"]][1] == ("NotStarted", 0)


def test_a_task_whose_endpoint_hangs_records_it_and_is_not_disabled(cloud, sink):
    c = cloud.client()
    out = c.create_stream(f"/{CO}/taskhang/out")
    js = """function() {
  try { Octave.Http.post("<URL>/sleep/3/task", {}, {n: 1}, {timeout: 5}); return {}; }
  catch (e) { return {"<OUT>": [{"elems": {"m": e.message}}]}; }
}""".replace("<URL>", sink.url).replace("<OUT>", out["path"])
    task = c.create_object("task", {"js": js, "period": 10})
    assert cloud.advance(50)["taskRuns"] == 5  # more than --disable-after 3
    runs = cloud.runs(task["id"], kind="task")
    assert [r["outcome"] for r in runs] == ["ok"] * 5
    assert c.get_object("task", task["id"])["disabled"] is False
    msgs = [e["m"] for e in _out(c, "taskhang")]
    assert len(msgs) == 5 and all("failed: timeout after" in m for m in msgs)
    assert _hits(sink, "/sleep/3/task") == 5


def test_per_call_timeout_as_a_number_or_an_object(cloud, sink):
    js = """function(event) {
  var m = [], r;
  try { Octave.Http.post("<URL>/sleep/3/obj", {}, "b", {timeout: 0.2}); } catch (e) { m.push(e.message); }
  try { Octave.Http.get("<URL>/sleep/3/num", {}, 0.15); } catch (e) { m.push(e.message); }
  r = Octave.Http.put("<URL>/status/200", {}, "b", {timeout: 60});
  m.push(r.status);
  r = Octave.Http["delete"]("<URL>/status/204", {}, {});
  m.push(r.status);
  return {"<OUT>": [{"elems": {"m": m}}]};
}""".replace("<URL>", sink.url)
    c, act = _action(cloud, "percall", js)
    (out,) = _out(c, "percall")
    assert "timeout after 0.2 s" in out["m"][0] and "timeout after 0.15 s" in out["m"][1]
    assert out["m"][2:] == [200, 204]
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "ok"
    t = [h["timeout_s"] for h in run["http"]]
    assert t[:2] == [0.2, 0.15] and all(0 < x <= 0.5 for x in t[2:])  # 60 s and the default: capped


def test_bad_per_call_timeouts_throw_before_any_request(cloud, sink):
    js = """function(event) {
  var bad = [-1, 0, "5", {timeout: "5"}, NaN, Infinity, true], m = [], i;
  for (i = 0; i < bad.length; i++) {
    try { Octave.Http.get("<URL>/status/200/bad", {}, bad[i]); m.push("sent"); }
    catch (e) { m.push(e instanceof Octave.Error ? e.message : "other: " + e); }
  }
  return {"<OUT>": [{"elems": {"m": m}}]};
}""".replace("<URL>", sink.url)
    c, act = _action(cloud, "badopt", js)
    (out,) = _out(c, "badopt")
    assert len(out["m"]) == 7
    assert all(m.startswith("Octave.Http: timeout must be a positive number of seconds") for m in out["m"])
    assert _hits(sink, "/status/200/bad") == 0
    assert cloud.runs(act["id"])[0]["http"] == []


def test_a_trickling_body_is_cut_at_the_call_deadline(cloud, sink):
    js = """function(event) {
  try { return {"<OUT>": [{"elems": {"len": Octave.Http.get("<URL>/trickle/100").content.length}}]}; }
  catch (e) { return {"<OUT>": [{"elems": {"m": e.message}}]}; }
}""".replace("<URL>", sink.url)
    c, act = _action(cloud, "trickle", js)
    (out,) = _out(c, "trickle")
    assert "failed: timeout after" in out["m"] and "ReadTimeout" in out["m"]
    (run,) = cloud.runs(act["id"])
    assert run["outcome"] == "ok" and run["http"][0]["error"] == "ReadTimeout"


def test_a_redirect_is_not_followed_and_keeps_its_body(cloud, sink):
    js = """function(event) {
  var r = Octave.Http.get("<URL>/status/301/moved");
  return {"<OUT>": [{"elems": {"s": r.status, "loc": r.headers.location, "body": JSON.parse(r.content)}}]};
}""".replace("<URL>", sink.url)
    c, act = _action(cloud, "redirect", js)
    (out,) = _out(c, "redirect")
    assert out["s"] == 301 and out["loc"] == "/status/200/redirected" and out["body"]["ok"] is True
    assert _hits(sink, "/status/200/redirected") == 0
