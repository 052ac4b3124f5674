"""`edgehook bridge` and `edgehook outbox` as a user runs them: real processes, real files, a pty."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import click
from click.testing import CliRunner
from rich.console import Console

from edgehook.bridge.outbox import Outbox, Reading
from edgehook.bridge.view import plain_line, render
from edgehook.cli import cli
from edgehook.errors import UsageError
from edgehook.orp import Packet
from tests.bridge.asset import ScriptedAsset, wait_for


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgehook", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_outbox_status_and_list(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add_many([Reading("d", "t/value", 1.0 + i, "N", i) for i in range(3)])
    recs = box.claim(3)
    box.mark_failed(recs[0].id, "HTTP 400: bad elems")
    box.mark_delivered(recs[1].id, "e1")
    box.close()
    status = run("outbox", "status", str(tmp_path / "o.db"))
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["states"]["pending"] == 1 and data["counters"]["failed"] == 1
    listed = run("outbox", "list", str(tmp_path / "o.db"), "--state", "failed")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["key"], r["reason"]) for r in rows] == [("d:t/value:1.000000", "HTTP 400: bad elems")]
    missing = run("outbox", "status", str(tmp_path / "nope.db"))
    assert missing.returncode == 1 and "edgehook: no outbox at" in missing.stderr


def test_bridge_needs_a_cloud_or_offline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEHOOK_")}
    res = run("bridge", "--port", "/dev/null", "--device", "d", env=env)
    assert res.returncode == 1
    assert "edgehook: no cloud to upload to" in res.stderr and "hint:" in res.stderr
    bad = CliRunner().invoke(cli, ["bridge", "--port", "x", "--device", "d", "--offline",
                                   "--map", "nonsense"], standalone_mode=False)
    assert "bad --map" in str(bad.exception)
    zero = run("bridge", "--port", "x", "--device", "d", "--offline", "--baud", "0")
    assert zero.returncode == 1 and "edgehook: Invalid value for '--baud'" in zero.stderr
    for option, value in (("--ttl", "-5"), ("--silence", "-1"), ("--command-interval", "0"), ("--concurrency", "0")):
        bad_number = CliRunner().invoke(cli, ["bridge", "--port", "x", "--device", "d", "--offline",
                                              option, value], standalone_mode=False)
        assert isinstance(bad_number.exception, click.BadParameter), (option, bad_number.exception)
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    nowhere = CliRunner().invoke(cli, ["bridge", "--port", "x", "--device", "d", "--offline",
                                       "--outbox", str(afile / "o.db")], standalone_mode=False)
    assert isinstance(nowhere.exception, UsageError), nowhere.exception
    assert "cannot create the outbox" in str(nowhere.exception)


def test_offline_bridge_process_acks_and_logs_plain_lines(tmp_path):
    asset = ScriptedAsset()
    outbox = tmp_path / "o.db"
    env = dict(os.environ, EDGEHOOK_TOKEN="s3cret-token-value", EDGEHOOK_USER="u")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgehook", "bridge", "--port", asset.port, "--device", "d",
         "--offline", "--outbox", str(outbox), "--status-every", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="t/value"))
        assert asset.request(Packet("P", "N", path="t/value", timestamp=5.0, data=b"1")).flag == "@"
        assert wait_for(lambda: Outbox(outbox).status()["open"] == 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        asset.close()
    assert proc.returncode == 0, err
    assert "link=open synced=yes resources=1 acked=1 outbox_open=1" in err
    assert "s3cret" not in out + err


def test_live_view_renders_the_facts():
    snap = {
        "port": "/dev/ttyUSB0", "device": "d", "link": "open", "synced": True, "peer_version": 2,
        "session": {"rx_packets": 9, "tx_packets": 9, "pushes_acked": 4, "pushes_duplicate": 1,
                    "pushes_refused": 0, "bad_packets": 0},
        "decoder": {"crc_errors": 2, "junk_bytes": 5},
        "resources": [{"path": "env/temp/value", "kind": "input", "dtype": "N", "units": "degC",
                       "value": 21.5, "timestamp": None, "pushes": 4, "handler": False}],
        "outbox": {"states": {"pending": 3, "retrying": 1}, "open": 4, "open_bytes": 300,
                   "counters": {"delivered": 7, "failed": 1, "dropped_oldest": 0, "expired": 0,
                                "rejected_full": 0}},
        "cloud": "up", "upload_rate": 1.5, "commands_handled": 2,
        "errors": ["12:00:00 upload d:x:1 failed: HTTP 400"],
        "events": ["12:00:01 waiting for /dev/ttyUSB0: /dev/ttyUSB0 does not exist"],
    }
    console = Console(record=True, width=140)
    console.print(render(snap))
    text = console.export_text()
    for needle in ("env/temp/value", "21.5", "degC", "up", "1.5 events/s", "HTTP 400", "crc errors 2",
                   "waiting for /dev/ttyUSB0"):
        assert needle in text
    assert "delivered=7" in plain_line(snap)


def test_live_view_fits_a_terminal_with_the_outbox_and_errors_in_sight():
    resources = [{"path": f"env/r{i:02d}/{leaf}", "kind": kind, "dtype": "N", "units": None,
                  "value": 1.0 if kind == "input" else None, "timestamp": 1e9 if kind == "input" else None,
                  "pushes": 1, "handler": False}
                 for i in range(10) for leaf, kind in (("value", "input"), ("period", "output"), ("enable", "output"))]
    snap = {
        "port": "/dev/ttyUSB0", "device": "d", "link": "open", "synced": True, "peer_version": 2,
        "session": {"rx_packets": 9, "tx_packets": 9, "pushes_acked": 4, "pushes_duplicate": 1,
                    "pushes_refused": 0, "bad_packets": 0},
        "decoder": {"crc_errors": 0, "junk_bytes": 0}, "resources": resources,
        "outbox": {"states": {"pending": 3, "retrying": 1}, "open": 4, "open_bytes": 300,
                   "counters": {"delivered": 7, "failed": 1, "dropped_oldest": 0, "expired": 0,
                                "rejected_full": 0}},
        "cloud": "up", "upload_rate": 1.5, "commands_handled": 0,
        "errors": ["12:00:00 upload d:x:1 failed: HTTP 400"], "events": [],
    }
    console = Console(record=True, width=120, height=30)
    console.print(render(snap, height=30))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) <= 30, "\n".join(lines)
    text = "\n".join(lines)
    assert "refused full" in text and "HTTP 400" in text and "more (no room)" in text
    assert "env/r00/value" in text  # resources with values come before the empty outputs
    full = Console(record=True, width=120)
    full.print(render(snap))  # no height: every resource
    every = full.export_text()
    assert all(r["path"] in every for r in resources)
