"""Test helpers: a per-device scripted receiver, deploying the bundle, posting readings, checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from standardwebhooks.webhooks import Webhook

from edgehook.bundle.build import build_bundle
from edgehook.bundle.deploy import deploy_bundle
from edgehook.bundle.manifest import load_manifest
from edgehook.bundle.receiver import Received, Reply
from edgehook.bundle.settings import resolve_settings

Handler = Callable[[Received], Reply]


def device_of(req: Received) -> str:
    """The device a request is about: from the JSON body of a POST, from /status/<device>/… else."""
    if req.method == "POST":
        return str(json.loads(req.body)["device"])
    return req.path.split("/")[2]


class Scripted:
    """A receiver script that answers per device, so tests sharing one receiver stay apart."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.lock = threading.Lock()

    def __call__(self, req: Received) -> Reply:
        with self.lock:
            handler = self.handlers.get(device_of(req))
        return handler(req) if handler else Reply(500, body="no script for this device")


def sequence(*replies: Reply) -> Handler:
    """Answer the replies in order, then keep answering the last."""
    left = list(replies)
    lock = threading.Lock()

    def handler(req: Received) -> Reply:
        with lock:
            return left.pop(0) if len(left) > 1 else left[0]

    return handler


def deploy(client: Any, settings: dict[str, Any]) -> list:
    manifest = load_manifest()
    resolved = resolve_settings(manifest, settings, env={})
    devices = sorted(d["name"] for d in client.list_objects("device", limit=1000))
    built = build_bundle(manifest, resolved, client.company, devices=devices)
    return deploy_bundle(client, built, [o.name for o in manifest.objects])


def post_reading(client: Any, device: str, value: float, ts_ms: int, stream: str = "env") -> dict:
    """Upload one reading as the bridge does: hash = device + resource + device timestamp."""
    sid = client.find_stream(f"/{client.company}/devices/{device}/{stream}")["id"]
    return client.create_event(sid, {stream: {"temp": value}}, hash=f"{device}/{stream}/temp@{ts_ms}",
                               generated_date=ts_ms)


def records(client: Any, device: str) -> list[dict]:
    events = client.list_events(path=f"/{client.company}/webhooks/deliveries",
                                filter=f"elems.device == '{device}'", limit=1000)
    return [{**e["elems"], "recordId": e["id"], "version": e["version"]} for e in events]


def assert_signed(secret: str, req: Received) -> None:
    """Verify with the standardwebhooks library: verify() within its 5-minute window, else sign()."""
    wh = Webhook(secret)
    ts = int(req.headers["webhook-timestamp"])
    if abs(ts - datetime.now(timezone.utc).timestamp()) < 240:
        wh.verify(req.body.encode(), req.headers, json_parse=False)
    else:  # the manual clock ran ahead: same check without the library's wall-clock window
        want = wh.sign(req.headers["webhook-id"], datetime.fromtimestamp(ts, tz=timezone.utc), req.body)
        assert want in req.headers["webhook-signature"].split(" ")
    assert req.headers["idempotency-key"] == req.headers["webhook-id"]
