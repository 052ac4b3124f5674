"""`edgehook cloud serve | runs | events` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import json
import os
import selectors
import socket
import stat
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from edgehook.cli import cli
from edgehook.errors import UsageError
from edgehook.octave.client import OctaveClient


def _readline(proc, deadline_s=20.0):
    """One line from an unbuffered pipe (bufsize=0), waiting at most deadline_s for it."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(deadline_s), "no output line before the deadline"
    return proc.stdout.readline().decode()


def _env_without_creds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEHOOK_USER", "EDGEHOOK_TOKEN")}
    env["EDGEHOOK_CREDENTIALS"] = str(tmp_path / "conf" / "credentials.json")
    return env


def test_serve_creates_credentials_once_and_never_prints_the_token(tmp_path):
    env = _env_without_creds(tmp_path)
    cmd = [sys.executable, "-m", "edgehook", "cloud", "serve", "--port", "0", "--db", str(tmp_path / "c.db"),
           "--company", "acme", "--workers", "1"]
    tokens = []
    for round_ in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)
        try:
            url = _readline(proc).strip()
            info = "".join(_readline(proc) for _ in range(2 if round_ else 3))
            path = tmp_path / "conf" / "credentials.json"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            creds = json.loads(path.read_text())
            tokens.append(creds["token"])
            assert (str(path) in info) is (round_ == 0)  # announced when created only
            assert creds["token"] not in info
            client = OctaveClient(url, "acme", creds["user"], creds["token"])
            deadline = time.monotonic() + 20
            while True:
                try:
                    assert client.request("GET", "/stream").ok
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            assert OctaveClient(url, "acme", creds["user"], "wrong").request("GET", "/stream").status == 403
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=15)
        assert tokens[-1].encode() not in err
    assert tokens[0] == tokens[1]


def test_serve_on_a_busy_port_is_a_usage_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {**_env_without_creds(tmp_path), "EDGEHOOK_USER": "u", "EDGEHOOK_TOKEN": "t"}
        proc = subprocess.run([sys.executable, "-m", "edgehook", "cloud", "serve", "--port", str(port),
                               "--db", str(tmp_path / "c.db")], capture_output=True, env=env, timeout=30)
    assert proc.returncode == 1
    assert b"cannot listen on 127.0.0.1" in proc.stderr and b"hint: try --port 0" in proc.stderr


@pytest.fixture
def cli_env(local_cloud_module, monkeypatch):
    for k, v in local_cloud_module.env().items():
        monkeypatch.setenv(k, v)
    return local_cloud_module


def test_runs_command(cli_env):
    cloud = cli_env
    c = cloud.client()
    src = c.create_stream(f"/{cloud.company}/clirun")
    act = c.create_object("action", {"source": src["path"], "js": 'function(e) { console.log("seen " + e.elems.n); }'})
    c.create_event(src["id"], {"n": 7})
    cloud.wait_idle()
    result = CliRunner().invoke(cli, ["cloud", "runs", act["id"], "--json"])
    assert result.exit_code == 0, result.output
    (run,) = [json.loads(line) for line in result.output.splitlines()]
    assert run["outcome"] == "ok" and run["console"] == ["seen 7"]
    result = CliRunner().invoke(cli, ["cloud", "runs", act["id"]])
    assert result.exit_code == 0 and "ok" in result.output and "seen 7" in result.output
    result = CliRunner().invoke(cli, ["cloud", "runs", "a000"])
    assert isinstance(result.exception, UsageError) and "no action a000" in result.exception.message


def test_events_command_and_follow(cli_env):
    cloud = cli_env
    c = cloud.client()
    s = c.create_stream(f"/{cloud.company}/clievents")
    for i in range(3):
        c.create_event(s["id"], {"i": i})
    result = CliRunner().invoke(cli, ["cloud", "events", "--path", s["path"], "--limit", "2"])
    assert result.exit_code == 0
    assert [json.loads(line)["elems"]["i"] for line in result.output.splitlines()] == [1, 2]
    result = CliRunner().invoke(cli, ["cloud", "events", "--path", s["path"], "--filter", "elems.i == 0"])
    assert [json.loads(line)["elems"]["i"] for line in result.output.splitlines()] == [0]
    proc = subprocess.Popen([sys.executable, "-m", "edgehook", "cloud", "events", "--path", s["path"],
                             "--follow", "--interval", "0.05"], stdout=subprocess.PIPE, bufsize=0,
                            env={**os.environ, **cloud.env()})
    try:
        assert [json.loads(_readline(proc))["elems"]["i"] for _ in range(3)] == [0, 1, 2]
        c.create_event(s["id"], {"i": 3})
        c.create_event(s["id"], {"i": 4})
        assert [json.loads(_readline(proc))["elems"]["i"] for _ in range(2)] == [3, 4]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_serve_with_a_bad_database_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database " * 100)
    env = {**_env_without_creds(tmp_path), "EDGEHOOK_USER": "u", "EDGEHOOK_TOKEN": "t"}
    proc = subprocess.run([sys.executable, "-m", "edgehook", "cloud", "serve", "--port", "0", "--db", str(bad)],
                          capture_output=True, env=env, timeout=30)
    assert proc.returncode == 1 and b"cannot open the database" in proc.stderr
    assert b"Traceback" not in proc.stderr
