"""Nothing lost, nothing doubled: kill -9 of the bridge mid-burst, and a corrupting serial link."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgehook.bridge.service import Bridge, BridgeConfig
from edgehook.octave.credentials import Credentials
from tests.bridge.asset import PushingAsset, wait_for
from tests.bridge.noisy import CorruptingRelay

T0 = 1_750_000_000.0


def start_bridge_process(cloud, port: str, device: str, outbox: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, **cloud.env())
    cmd = [sys.executable, "-m", "edgehook", "bridge", "--port", port, "--device", device,
           "--outbox", str(outbox), "--plain", "--status-every", "1", "--backoff-max", "0.5",
           "--command-interval", "60"]
    with open(log, "ab") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=fh, env=env)


def cloud_values(cloud, device: str, stream: str) -> list[float]:
    events = cloud.client().list_events(path=f"/{cloud.company}/devices/{device}/{stream}", limit=10000)
    return sorted(e["elems"][stream] for e in events)


def test_kill_9_mid_burst_repeatedly_loses_and_doubles_nothing(local_cloud_module, tmp_path):
    cloud = local_cloud_module
    asset = PushingAsset(["k/value"], rto=0.3)
    outbox, log = tmp_path / "o.db", tmp_path / "bridge.log"
    rng = random.Random(6)
    sent = 0
    proc = None
    try:
        for _round in range(5):
            proc = start_bridge_process(cloud, asset.port, "dev-kill", outbox, log)
            for _ in range(30):
                asset.add("k/value", T0 + sent * 0.01, float(sent))
                sent += 1
            target = len(asset.acked) + rng.randint(3, 25)
            assert wait_for(lambda t=target: len(asset.acked) >= t, timeout=20), log.read_text()[-2000:]
            proc.send_signal(signal.SIGKILL)  # no chance to flush, close or say goodbye
            proc.wait(10)
        proc = start_bridge_process(cloud, asset.port, "dev-kill", outbox, log)
        assert wait_for(lambda: asset.pending == 0, timeout=30), log.read_text()[-2000:]
        assert wait_for(lambda: len(cloud_values(cloud, "dev-kill", "k")) >= sent, timeout=30)
        values = cloud_values(cloud, "dev-kill", "k")
        assert values == [float(i) for i in range(sent)]  # every reading once, none twice
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        asset.close()


@pytest.mark.parametrize("rate", [1e-3])
def test_corrupted_link_accepts_no_bad_value_and_delivers_every_reading(local_cloud_module, tmp_path, rate):
    cloud = local_cloud_module
    asset = PushingAsset(["c/value"], rto=0.2)
    # the asset's pty slave is the relay's far end: asset ⇄ relay ⇄ bridge
    relay = CorruptingRelay(asset.slave, rate)
    cfg = BridgeConfig(port=relay.port, device="dev-noise", outbox=tmp_path / "o.db",
                       cloud_url=cloud.base_url, company=cloud.company,
                       credentials=Credentials(cloud.user, cloud.token), sync_interval=0.5,
                       backoff_base=0.05, backoff_max=0.3)
    bridge = Bridge(cfg)
    bridge.start()
    try:
        n = 400
        for i in range(n):
            asset.add("c/value", T0 + i * 0.01, i * 1.25)
        assert wait_for(lambda: asset.pending == 0, timeout=60)
        assert wait_for(lambda: bridge.outbox.status()["open"] == 0, timeout=20)
        assert relay.flips + relay.drops + relay.junk > 5  # the link really was noisy
        dec = bridge.deframer.stats
        assert dec.crc_errors + dec.junk_bytes > 0
        events = cloud.client().list_events(path=f"/{cloud.company}/devices/dev-noise/c", limit=10000)
        got = sorted((e["generatedDate"], e["elems"]["c"]) for e in events)
        assert got == [(int(round((T0 + i * 0.01) * 1000)), i * 1.25) for i in range(n)]
    finally:
        bridge.stop()
        relay.close()
        asset.close()
