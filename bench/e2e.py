"""End-to-end benchmark of webhook delivery, each figure next to a baseline from the same run.

1. Deliveries/s through the local cloud's action runtime (REST event in → bundled action →
   signed POST → delivery record written) next to a raw `requests` loop POSTing the same signed
   bodies to the same loopback receiver.
2. Latency from a reading on the virtual board (its device timestamp) to its webhook arriving,
   p50 and p99, over `--seconds` of `edgehook demo`'s pipeline (board → bridge → cloud → webhook).

usage: python bench/e2e.py [--events N] [--seconds S] [--skip-board] [--heap 48wk]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host_tools"))

from edgehook.bundle.build import build_bundle  # noqa: E402
from edgehook.bundle.demo import Demo, start_cloud, stop_process  # noqa: E402
from edgehook.bundle.deploy import deploy_bundle  # noqa: E402
from edgehook.bundle.manifest import load_manifest  # noqa: E402
from edgehook.bundle.receiver import Reply, WebhookReceiver  # noqa: E402
from edgehook.bundle.settings import new_secret, resolve_settings  # noqa: E402
from edgehook.octave.client import OctaveClient  # noqa: E402


def runtime_rate(n: int, work: Path) -> tuple[float, float]:
    """(deliveries/s through the runtime, raw signed POSTs/s) to one receiver in this run."""
    secret = new_secret()
    user, token = "bench", secrets.token_urlsafe(16)
    env = {**os.environ, "EDGEHOOK_USER": user, "EDGEHOOK_TOKEN": token,
           "EDGEHOOK_CREDENTIALS": str(work / "credentials.json")}
    proc, url = start_cloud(work, env)
    try:
        with WebhookReceiver(lambda r: Reply(201), secret=secret) as rx:
            client = OctaveClient(url, "demo", user, token)
            for _ in range(100):
                if client.request("GET", "/stream", params={"limit": 1}).ok:
                    break
                time.sleep(0.1)
            client.create_device("bench")
            manifest = load_manifest()
            settings = resolve_settings(manifest, {"webhook.url": rx.url, "webhook.secret": secret,
                                                   "forward.streams": "env", "task.period": "60"}, env={})
            deploy_bundle(client, build_bundle(manifest, settings, "demo", devices=["bench"]),
                          [o.name for o in manifest.objects])
            sid = client.find_stream("/demo/devices/bench/env")["id"]
            start = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i: client.create_event(sid, {"env": {"temp": i}}, hash=f"bench/env@{i}",
                                                            generated_date=1_750_000_000_000 + i), range(n)))
            deadline = time.monotonic() + 300
            while len({p.webhook_id for p in rx.posts()}) < n and time.monotonic() < deadline:
                time.sleep(0.05)
            runtime = len({p.webhook_id for p in rx.posts()}) / (time.perf_counter() - start)
            bodies = [p.body for p in rx.posts()[:n]]
            key = base64.b64decode(secret[6:])
            session = requests.Session()
            start = time.perf_counter()
            for i, body in enumerate(bodies):
                wid, ts = f"msg_raw{i}", str(int(time.time()))
                sig = base64.b64encode(hmac.new(key, f"{wid}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
                session.post(rx.url, data=body, headers={"Content-Type": "application/json", "webhook-id": wid,
                                                         "webhook-timestamp": ts, "webhook-signature": "v1," + sig},
                             timeout=10)
            raw = len(bodies) / (time.perf_counter() - start)
    finally:
        stop_process(proc)
    return runtime, raw


def board_latency(seconds: float, work: Path, heap: str) -> dict:
    demo = Demo(work, heap=heap)
    try:
        demo.start()
        time.sleep(seconds)
        return demo.snapshot()
    finally:
        demo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="events for the runtime rate")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of the board pipeline")
    parser.add_argument("--skip-board", action="store_true", help="only the runtime rate")
    parser.add_argument("--heap", default="48wk", help="MicroPython heap of the virtual board")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgehook-bench-") as tmp:
        runtime, raw = runtime_rate(args.events, Path(tmp) / "rate")
        print(f"deliveries through the runtime: {runtime:8.1f}/s  ({args.events} events, 1 endpoint, "
              "signed, record written)")
        print(f"raw requests loop, same bodies: {raw:8.1f}/s  -> runtime/raw = {runtime / raw:.3f}")
        if not args.skip_board:
            snap = board_latency(args.seconds, Path(tmp) / "board", args.heap)
            lat = snap["latency_ms"]
            print(json.dumps({k: snap[k] for k in ("readings", "events", "deliveries", "messages")}))
            if lat["p50"] is None:
                print("board → webhook latency: no webhook arrived (is the firmware running?)")
            else:
                print(f"board reading → webhook arrival: p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms "
                      f"over {snap['messages']} readings in {args.seconds:.0f} s")


if __name__ == "__main__":
    main()
