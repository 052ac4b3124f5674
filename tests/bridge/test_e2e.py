"""End to end with real parts: the virtual board running the real firmware, the bridge, and
`edgehook cloud serve`. Readings, a command that changes the firmware's period, kill -9 of the
bridge, a cloud outage and a noisy serial line."""

from __future__ import annotations

import json
import os
import random
import signal
import tty
from pathlib import Path

import pytest

from edgehook.bridge.service import Bridge, BridgeConfig
from edgehook.octave.credentials import Credentials
from tests.bridge.asset import wait_for
from tests.bridge.netproxy import TcpProxy
from tests.bridge.noisy import CorruptingRelay
from tests.bridge.test_resilience import start_bridge_process

pytestmark = pytest.mark.slow
# These tests are about the bridge; the firmware's own tests hold it to the ESP32's 48k heap.
HEAP = os.environ.get("EDGEHOOK_TEST_HEAP", "256k")


def board_config(**sensors: dict) -> dict:
    return {"sensors": sensors, "health": 3600.0, "timeout": 0.3, "backoff": 1.0}


def bridge_for(cloud, port: str, device: str, outbox: Path, url: str | None = None, **kw) -> Bridge:
    cfg = BridgeConfig(port=port, device=device, outbox=outbox, cloud_url=url or cloud.base_url,
                       company=cloud.company, credentials=Credentials(cloud.user, cloud.token),
                       sync_interval=0.5, command_interval=0.2, backoff_base=0.05,
                       backoff_max=0.3, **kw)
    b = Bridge(cfg)
    b.start()
    return b


def events(cloud, device: str, stream: str) -> list[dict]:
    resp = cloud.client().request("GET", "/event", params={
        "path": f"/{cloud.company}/devices/{device}/{stream}", "limit": 10000,
        "sort": "generatedDate", "order": "asc"})
    return resp.body if resp.ok else []  # 404 until the bridge created the stream


def assert_alternating(evs: list[dict], stream: str) -> None:
    """A step sensor with hold 1 alternates 0, 1, 0, …: a lost reading shows as a repeat."""
    values = [e["elems"][stream] for e in evs]
    assert set(values) <= {0.0, 1.0}, values
    repeats = [i for i in range(1, len(values)) if values[i] == values[i - 1]]
    assert not repeats, f"readings lost before index {repeats[:5]} of {len(values)}"
    dates = [e["generatedDate"] for e in evs]
    assert dates == sorted(set(dates))


def test_readings_land_and_a_command_changes_the_firmware_period(local_cloud_module, vboard_factory, tmp_path):
    cloud = local_cloud_module
    vb = vboard_factory(heap=HEAP, config=board_config(
        temp={"type": "sine", "period": 0.2, "units": "degC"}))
    b = bridge_for(cloud, vb.port, "dev-e2e", tmp_path / "o.db")
    try:
        assert wait_for(lambda: len(events(cloud, "dev-e2e", "temp")) >= 3, timeout=20), b.snapshot()
        ev = events(cloud, "dev-e2e", "temp")[0]
        assert set(ev["elems"]) == {"temp"} and isinstance(ev["elems"]["temp"], float)
        device, path, ts = ev["hash"].split(":")
        assert (device, path) == ("dev-e2e", "temp/value")
        assert ev["generatedDate"] == round(float(ts) * 1000)
        res = {r["path"]: r for r in b.snapshot()["resources"]}
        assert res["temp/value"]["units"] == "degC" and res["temp/period"]["kind"] == "output"
        # the cloud sets the period through the device's :command stream
        cmd = cloud.client().find_stream(f"/{cloud.company}/devices/dev-e2e/:command")
        assert cmd is not None and b.commands is not None and b.commands.based.wait(10)
        cloud.client().create_event(cmd["id"], {"temp": {"period": 0.05}})
        assert wait_for(lambda: b.commands is not None and b.commands.handled == 1, timeout=10)
        assert b.session.stats.handler_failures == 0
        settings = vb.board_dir / "settings.json"
        assert wait_for(settings.exists, timeout=5)
        assert "0.05" in settings.read_text()
        assert b.table.get("temp/period") is not None and b.table.get("temp/period").value == 0.05
    finally:
        b.stop()


def test_kill_9_of_the_bridge_with_the_real_firmware(local_cloud_module, vboard_factory, tmp_path):
    cloud = local_cloud_module
    vb = vboard_factory(heap=HEAP, config=board_config(sq={"type": "step", "hold": 1, "low": 0, "high": 1,
                                                "period": 0.05}))
    outbox, log = tmp_path / "o.db", tmp_path / "bridge.log"
    rng = random.Random(9)
    seen = 0
    proc = None
    try:
        for _round in range(5):
            proc = start_bridge_process(cloud, vb.port, "dev-kill-fw", outbox, log)
            target = seen + rng.randint(5, 20)
            assert wait_for(lambda t=target: len(events(cloud, "dev-kill-fw", "sq")) >= t,
                            timeout=30), log.read_text()[-3000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            seen = len(events(cloud, "dev-kill-fw", "sq"))
        proc = start_bridge_process(cloud, vb.port, "dev-kill-fw", outbox, log)
        assert wait_for(lambda: len(events(cloud, "dev-kill-fw", "sq")) >= seen + 40, timeout=30)
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    assert_alternating(events(cloud, "dev-kill-fw", "sq"), "sq")
    assert cloud.token not in log.read_text()  # never printed or logged


def test_a_board_reboot_loses_and_doubles_nothing_that_was_acked(local_cloud_module, vboard_factory, tmp_path):
    cloud = local_cloud_module
    vb = vboard_factory(heap=HEAP, config=board_config(
        sq={"type": "step", "hold": 1, "low": 0, "high": 1, "period": 0.05}))
    b = bridge_for(cloud, vb.port, "dev-reboot", tmp_path / "o.db")
    try:
        assert wait_for(lambda: len(events(cloud, "dev-reboot", "sq")) >= 15, timeout=20)
        creates = b.session.stats.requests - b.session.stats.pushes_acked - b.session.stats.pushes_refused
        vb.restart()  # the board resets: it creates its resources again and pushes on
        before = len(events(cloud, "dev-reboot", "sq"))
        assert wait_for(lambda: len(events(cloud, "dev-reboot", "sq")) >= before + 15, timeout=20)
        again = b.session.stats.requests - b.session.stats.pushes_acked - b.session.stats.pushes_refused
        assert again > creates  # the rebooted board recreated its resources
        assert b.outbox.counters()["failed"] == 0 and b.session.stats.pushes_refused == 0
    finally:
        b.stop()
    evs = events(cloud, "dev-reboot", "sq")
    assert len({e["hash"] for e in evs}) == len(evs)
    # the sample counter starts again at boot: each boot's run of readings alternates unbroken
    dates = [e["generatedDate"] for e in evs]
    gap = max(range(1, len(dates)), key=lambda i: dates[i] - dates[i - 1])
    assert_alternating(evs[:gap], "sq")
    assert_alternating(evs[gap:], "sq")


def test_cloud_down_then_back_drains(local_cloud_module, vboard_factory, tmp_path):
    cloud = local_cloud_module
    host, port = cloud.base_url.split("//")[1].split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    proxy.down()
    vb = vboard_factory(heap=HEAP, config=board_config(sq={"type": "step", "hold": 1, "low": 0, "high": 1,
                                                "period": 0.05}))
    b = bridge_for(cloud, vb.port, "dev-down-fw", tmp_path / "o.db",
                   url=f"http://127.0.0.1:{proxy.port}/v5.0")
    try:
        assert wait_for(lambda: b.outbox.status()["open"] >= 30, timeout=20)
        assert b.outbox.counters()["delivered"] == 0
        proxy.up()
        assert wait_for(lambda: len(events(cloud, "dev-down-fw", "sq")) >= 30, timeout=20)
        assert wait_for(lambda: b.outbox.counters()["delivered"] >= 30 and b.outbox.counters()["failed"] == 0)
    finally:
        b.stop()
        proxy.down()
    assert_alternating(events(cloud, "dev-down-fw", "sq"), "sq")


def test_noisy_line_accepts_no_corrupt_value_and_loses_nothing(local_cloud_module, vboard_factory, tmp_path):
    cloud = local_cloud_module
    vb = vboard_factory(heap=HEAP, config=board_config(sq={"type": "step", "hold": 1, "low": 0, "high": 1,
                                                "period": 0.02}))
    fd = os.open(vb.port, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    relay = CorruptingRelay(fd, 1e-3)
    b = bridge_for(cloud, relay.port, "dev-noise-fw", tmp_path / "o.db")
    try:
        assert wait_for(lambda: len(events(cloud, "dev-noise-fw", "sq")) >= 300, timeout=60), b.snapshot()
        assert relay.flips + relay.drops + relay.junk > 0
    finally:
        b.stop()
        relay.close()
        os.close(fd)
    evs = events(cloud, "dev-noise-fw", "sq")
    assert_alternating(evs, "sq")
    for e in evs:
        device, path, _ts = e["hash"].split(":")
        assert (device, path) == ("dev-noise-fw", "sq/value")
    assert json.dumps(evs)  # every event is well-formed JSON
