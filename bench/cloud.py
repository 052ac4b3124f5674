"""Benchmark of the local cloud: webhook-style Cloud Action runs/s against a loopback sink next to
a raw `requests.Session().post` loop to the same sink (the ratio is the figure), next to Node.js
`vm` running the same action when `node` is present, and REST event ingest/s.

usage: python bench/cloud.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from edgehook.octave.client import OctaveClient

ACTION = """function(event) {
  var body = JSON.stringify(event);
  var res = Octave.Http.post("%s/hook", {"Content-Type": "application/json", "X-Id": event.id}, body);
  if (res.status !== 201) { throw new Error("webhook said " + res.status); }
  return {};
}"""

NODE_HOST = r"""
const vm = require('vm'); const fs = require('fs');
let buf = Buffer.alloc(0);
function readLine() {
  for (;;) {
    const i = buf.indexOf(10);
    if (i >= 0) { const line = buf.slice(0, i).toString(); buf = buf.slice(i + 1); return line; }
    const chunk = Buffer.alloc(65536); let n;
    try { n = fs.readSync(0, chunk, 0, 65536, null); } catch (e) { if (e.code === 'EAGAIN') continue; throw e; }
    if (n === 0) process.exit(0);
    buf = Buffer.concat([buf, chunk.slice(0, n)]);
  }
}
function send(o) { fs.writeSync(1, JSON.stringify(o) + "\n"); }
for (;;) {
  const job = JSON.parse(readLine());
  const ctx = vm.createContext({Octave: {Http: {post: function (url, headers, body) {
    send({call: "post", url: url, headers: headers, body: body}); return JSON.parse(readLine()); }}}});
  const fn = vm.runInContext('"use strict"; (' + job.js + ')', ctx, {timeout: 5000});
  const result = fn(JSON.parse(job.event));
  send({done: result === undefined ? null : result});
}
"""


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answer at once on a kept-alive connection
    count = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Sink.count += 1
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def start_sink() -> tuple[ThreadingHTTPServer, str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def start_cloud(tmp: Path) -> tuple[subprocess.Popen, OctaveClient]:
    user, token = "bench", secrets.token_urlsafe(16)
    env = {**os.environ, "EDGEHOOK_USER": user, "EDGEHOOK_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "edgehook", "cloud", "serve", "--port", "0", "--db",
                             str(tmp / "bench.db"), "--company", "bench"], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    client = OctaveClient(url, "bench", user, token)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.request("GET", "/_idle", params={"timeout": 1}).ok:
                return proc, client
        except Exception:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the cloud did not start")


def raw_posts(url: str, n: int) -> float:
    session = requests.Session()
    body = json.dumps({"id": "e0", "elems": {"temp": 21.5}})
    t0 = time.perf_counter()
    for _ in range(n):
        assert session.post(url + "/hook", data=body, headers={"Content-Type": "application/json"}).status_code == 201
    return n / (time.perf_counter() - t0)


def ingest(client: OctaveClient, stream_id: str, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        client.create_event(stream_id, {"temp": 20 + i % 10, "i": i})
    return n / (time.perf_counter() - t0)


def action_runs(client: OctaveClient, sink: str, n: int, streams: int) -> tuple[float, float]:
    """Events posted to `streams` source streams, each running the action: (runs/s to idle,
    median run duration in ms from the run records)."""
    ids, actions = [], []
    for k in range(streams):
        s = client.create_stream(f"/bench/src{streams}_{k}_{secrets.token_hex(3)}", capacity=100000)
        actions.append(client.create_object("action", {"source": s["path"], "js": ACTION % sink})["id"])
        ids.append(s["id"])
    before = _Sink.count
    t0 = time.perf_counter()
    for i in range(n):
        client.create_event(ids[i % streams], {"temp": 21.5, "i": i})
    assert client.request("GET", "/_idle", params={"timeout": 120}).body["idle"]
    rate = n / (time.perf_counter() - t0)
    assert _Sink.count - before == n, "every run must reach the sink"
    durations = sorted(r["duration_ms"] for a in actions
                       for r in client.request("GET", f"/action/{a}/runs", params={"limit": 10000}).body)
    assert len(durations) == n and all(r for r in durations)
    return rate, durations[len(durations) // 2]


def node_runs(sink: str, n: int) -> float | None:
    node = shutil.which("node")
    if not node:
        return None
    proc = subprocess.Popen([node, "-e", NODE_HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    session = requests.Session()
    event = {"id": "e1", "path": "/bench/x", "elems": {"temp": 21.5}}
    t0 = time.perf_counter()
    for i in range(n):
        event["elems"]["i"] = i
        proc.stdin.write(json.dumps({"js": ACTION % sink, "event": json.dumps(event)}) + "\n")
        proc.stdin.flush()
        while True:
            msg = json.loads(proc.stdout.readline())
            if "done" in msg:
                break
            r = session.post(msg["url"], headers=msg["headers"], data=msg["body"])
            proc.stdin.write(json.dumps({"status": r.status_code, "headers": dict(r.headers), "content": r.text}) + "\n")
            proc.stdin.flush()
    rate = n / (time.perf_counter() - t0)
    proc.stdin.close()
    proc.wait(timeout=10)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500, help="action runs (and REST events) per figure")
    args = ap.parse_args()
    n = args.runs
    sink_srv, sink = start_sink()
    with tempfile.TemporaryDirectory() as tmp:
        proc, client = start_cloud(Path(tmp))
        try:
            raw = raw_posts(sink, n)
            plain = client.create_stream("/bench/plain", capacity=100000)
            rest = ingest(client, plain["id"], n)
            one, one_ms = action_runs(client, sink, n, streams=1)
            four, _ = action_runs(client, sink, n, streams=4)
            nd = node_runs(sink, n)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    sink_srv.shutdown()
    print(f"runs per figure: {n}; baseline = raw requests.Session().post loop to the same sink")
    print(f"raw requests.post to the sink          {raw:8.0f} /s   1.00")
    print(f"REST event ingest (no action)          {rest:8.0f} /s   {rest / raw:.2f}")
    print(f"webhook action, 1 source stream        {one:8.0f} /s   {one / raw:.2f}  (ingest + run, in order)")
    print(f"webhook action, 4 source streams       {four:8.0f} /s   {four / raw:.2f}  (2 workers)")
    print(f"median run duration (worker round trip, QuickJS context, one POST): {one_ms:.2f} ms")
    if nd is None:
        print("node vm: skipped (no `node` on PATH)")
    else:
        print(f"node vm, same action (sync HTTP host)  {nd:8.0f} /s   {nd / raw:.2f}  (new context per run, no REST)")


if __name__ == "__main__":
    main()
