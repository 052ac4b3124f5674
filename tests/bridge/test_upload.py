"""Uploads: against a scripted HTTP server (statuses, Retry-After) and the real local cloud."""

from __future__ import annotations

import random
import threading

import pytest

from edgehook.bridge.outbox import Outbox, Reading
from edgehook.bridge.service import Bridge, BridgeConfig
from edgehook.bridge.uploader import StreamMap, Uploader, nest_elems
from edgehook.octave.client import OctaveClient
from edgehook.octave.credentials import Credentials
from edgehook.orp import Packet
from tests.bridge.asset import ScriptedAsset, wait_for
from tests.bridge.netproxy import TcpProxy
from tests.bridge.stubcloud import StubCloud


def test_nest_elems():
    assert nest_elems("env/temp/value", 21.5) == {"env": {"temp": 21.5}}
    assert nest_elems("env/temp/raw", 3) == {"env": {"temp": {"raw": 3}}}
    assert nest_elems("value", True) == {"value": True}
    assert nest_elems("env/temp/value", 1, prefix="orp/asset") == {"orp": {"asset": {"env": {"temp": 1}}}}
    m = StreamMap("co", "dev", {"env": "environment", "x": "/co/other"})
    assert m.stream_for("env/temp/value") == "/co/devices/dev/environment"
    assert m.stream_for("x/value") == "/co/other"
    assert m.stream_for("adc/0/value") == "/co/devices/dev/adc"


def run_uploader(tmp_path, url: str, readings: int = 1, **kw):
    box = Outbox(tmp_path / "o.db")
    box.add_many([Reading("d", "x/value", 100.0 + i, "N", i) for i in range(readings)])
    up = Uploader(box, lambda: OctaveClient(url, "c", "u", "t", timeout=2), StreamMap("c", "d"),
                  concurrency=kw.pop("concurrency", 1), backoff_base=0.05, backoff_max=0.2,
                  rng=random.Random(1), **kw)
    stop = threading.Event()
    up.start(stop)
    return box, up, stop


def test_retry_after_5xx_and_then_delivered(tmp_path):
    stub = StubCloud([(429, {"Retry-After": "0.6"}), (503, {}), (201, {})])
    box, up, stop = run_uploader(tmp_path, stub.url)
    try:
        assert wait_for(lambda: box.counters()["delivered"] == 1)
        assert [p["status"] for _, p in stub.posts] == [429, 503, 201]
        assert stub.posts[1][0] - stub.posts[0][0] >= 0.6  # Retry-After honoured
        body = stub.posts[2][1]
        assert body["hash"] == "d:x/value:100.000000" and body["generatedDate"] == 100_000
        assert body["elems"] == {"x": 0}
        assert box.counters()["retries"] == 2
        assert box.records(state="delivered")[0].event_id == "e3"
    finally:
        stop.set()
        up.join(5)
        stub.close()


def test_4xx_fails_with_reason_but_auth_errors_wait(tmp_path):
    stub = StubCloud([(400, {}), (403, {}), (201, {})])
    box, up, stop = run_uploader(tmp_path, stub.url, readings=2)
    try:
        assert wait_for(lambda: box.counters()["delivered"] == 1 and box.counters()["failed"] == 1)
        failed = box.records(state="failed")
        assert [(r.timestamp, r.reason) for r in failed] == [(100.0, "HTTP 400: scripted 400")]
        assert box.records(state="delivered")[0].attempts == 2  # the 403 was retried, not failed
    finally:
        stop.set()
        up.join(5)
        stub.close()


def test_a_record_no_json_can_carry_fails_with_its_reason(tmp_path):
    stub = StubCloud([(201, {})])
    box = Outbox(tmp_path / "o.db")  # e.g. written by an older bridge that took NaN in
    box.add_many([Reading("d", "x/value", 99.0, "J", {"a": float("nan")})])
    box.close()
    box, up, stop = run_uploader(tmp_path, stub.url)
    try:
        assert wait_for(lambda: box.counters()["delivered"] == 1 and box.counters()["failed"] == 1)
        (failed,) = box.records(state="failed")
        assert failed.timestamp == 99.0 and failed.reason.startswith("not sendable as JSON")
        assert len(stub.posts) == 1
    finally:
        stop.set()
        up.join(5)
        stub.close()


def test_network_errors_are_retried_not_failed(tmp_path):
    proxy = TcpProxy("127.0.0.1", 9)
    proxy.down()  # nothing listens there now
    box, up, stop = run_uploader(tmp_path, f"http://127.0.0.1:{proxy.port}/v5.0")
    try:
        assert wait_for(lambda: box.counters()["retries"] >= 2)
        rec = box.records()[0]
        assert rec.state == "retrying" and "failed: ConnectionError" in (rec.reason or "")
        assert box.counters()["failed"] == 0
    finally:
        stop.set()
        up.join(5)


# -- against the real local cloud -----------------------------------------------------------------

def bridge_for(cloud, tmp_path, port: str, url: str | None = None, **kw) -> Bridge:
    cfg = BridgeConfig(port=port, device=kw.pop("device", "dev1"), outbox=tmp_path / "o.db",
                       cloud_url=url or cloud.base_url, company=cloud.company,
                       credentials=Credentials(cloud.user, cloud.token), sync_interval=0.3,
                       command_interval=0.1, backoff_base=0.05, backoff_max=0.3, **kw)
    b = Bridge(cfg)
    b.start()
    return b


@pytest.fixture
def asset():
    a = ScriptedAsset()
    yield a
    a.close()


def push_all(asset: ScriptedAsset, path: str, values: list[float], t0: float = 1_700_000_000.0) -> None:
    for i, v in enumerate(values):
        resp = asset.request(Packet("P", "N", path=path, timestamp=t0 + i * 0.25, data=str(v).encode()))
        assert resp.flag == "@"


def test_readings_land_as_events_with_elems_timestamps_and_hash(local_cloud_module, tmp_path, asset):
    cloud = local_cloud_module
    b = bridge_for(cloud, tmp_path, asset.port, device="dev-land")
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="env/temp/value", units="degC"))
        push_all(asset, "env/temp/value", [21.5, 21.75, 22.0])
        assert wait_for(lambda: b.outbox.counters()["delivered"] == 3)
        client = cloud.client()
        assert client.get_device("dev-land") is not None
        events = client.list_events(path=f"/{cloud.company}/devices/dev-land/env", order="asc",
                                    sort="generatedDate")
        assert [e["elems"] for e in events] == [{"env": {"temp": v}} for v in (21.5, 21.75, 22.0)]
        assert [e["generatedDate"] for e in events] == [1_700_000_000_000, 1_700_000_000_250,
                                                        1_700_000_000_500]
        assert [e["hash"] for e in events] == [f"dev-land:env/temp/value:{1_700_000_000 + i * 0.25:.6f}"
                                               for i in range(3)]
    finally:
        b.stop()
    # a crash after the upload but before it was marked: the same key uploads again, one event
    box = Outbox(tmp_path / "again.db")
    box.add(Reading("dev-land", "env/temp/value", 1_700_000_000.0, "N", 21.5))
    up = Uploader(box, cloud.client, StreamMap(cloud.company, "dev-land"))
    stop = threading.Event()
    up.start(stop)
    assert wait_for(lambda: box.counters()["delivered"] == 1)
    stop.set()
    up.join(5)
    assert len(cloud.client().list_events(path=f"/{cloud.company}/devices/dev-land/env")) == 3


def test_a_stream_the_cloud_refuses_fails_the_record_with_its_reason(local_cloud_module, tmp_path, asset):
    b = bridge_for(local_cloud_module, tmp_path, asset.port, device="dev-bad",
                   stream_map={"bad": "/not-my-company/x"})
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="bad/value"))
        asset.request(Packet("I", "N", path="good/value"))
        push_all(asset, "bad/value", [1.0])
        push_all(asset, "good/value", [2.0])
        assert wait_for(lambda: b.outbox.counters()["failed"] == 1 and b.outbox.counters()["delivered"] == 1)
        failed = b.outbox.records(state="failed")[0]
        assert failed.path == "bad/value"
        assert failed.reason == f"POST /stream: path must be a string starting with /{local_cloud_module.company}/"
    finally:
        b.stop()


def test_cloud_down_then_back_drains_the_outbox(local_cloud_module, tmp_path, asset):
    cloud = local_cloud_module
    host, port = cloud.base_url.split("//")[1].split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    url = f"http://127.0.0.1:{proxy.port}/v5.0"
    proxy.down()
    b = bridge_for(cloud, tmp_path, asset.port, url=url, device="dev-down")
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="t/value"))
        push_all(asset, "t/value", [float(i) for i in range(20)])  # acked while the cloud is down
        assert wait_for(lambda: b.outbox.counters()["retries"] >= 1)
        assert b.outbox.status()["open"] == 20 and b.uploader and b.uploader.cloud_state == "retrying"
        proxy.up()
        assert wait_for(lambda: b.outbox.counters()["delivered"] == 20, timeout=10)
        events = cloud.client().list_events(path=f"/{cloud.company}/devices/dev-down/t", limit=100)
        assert sorted(e["elems"]["t"] for e in events) == [float(i) for i in range(20)]
    finally:
        b.stop()
        proxy.down()


def test_a_command_event_becomes_a_handler_call_once(local_cloud_module, tmp_path, asset):
    cloud = local_cloud_module
    client = cloud.client()
    client.create_device("dev-cmd")
    cmd_stream = client.find_stream(f"/{cloud.company}/devices/dev-cmd/:command")
    assert cmd_stream is not None
    client.create_event(cmd_stream["id"], {"env/temp/period": 1})  # before the first start: stale
    b = bridge_for(cloud, tmp_path, asset.port, device="dev-cmd")
    try:
        asset.answer_sync()
        asset.request(Packet("O", "N", path="env/temp/period"))
        asset.request(Packet("H", " ", path="env/temp/period"))
        assert b.commands is not None and b.commands.based.wait(10)  # older commands are old
        client.create_event(cmd_stream["id"], {"env": {"temp": {"period": 5}}, "nope": 1})
        call = asset.expect(lambda p: p.type == "c", timeout=10)
        assert (call.path, call.data) == ("env/temp/period", b"5")  # not the stale b"1"
        asset.send(Packet("C", "@", call.seq))
        assert wait_for(lambda: b.commands is not None and b.commands.unknown == 1)
        assert any("no output resource 'nope'" in e for e in b.snapshot()["errors"])
    finally:
        b.stop()
    # a restart remembers the command it handled: no second call
    asset.inbox.clear()
    b = bridge_for(cloud, tmp_path, asset.port, device="dev-cmd")
    try:
        asset.answer_sync()
        asset.request(Packet("O", "N", path="env/temp/period"))
        asset.request(Packet("H", " ", path="env/temp/period"))
        assert b.commands is not None and b.commands.based.wait(10)
        client.create_event(cmd_stream["id"], {"env/temp/period": 9})
        call = asset.expect(lambda p: p.type == "c", timeout=10)
        assert call.data == b"9"
        asset.send(Packet("C", "@", call.seq))
        asset.pump(0.3)
        assert [p for p in asset.inbox if p.type == "c"] == []
    finally:
        b.stop()
