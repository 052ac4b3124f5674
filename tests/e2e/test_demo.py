"""`edgehook demo` as the README runs it: readings delivered, a summary, nothing left running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _processes_using(folder: Path) -> list[str]:
    """Processes whose command line or working directory names `folder`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{pid}: {cmdline[:120]}")
    return found


def _check_summary(stdout: str, work: Path) -> None:
    summary = stdout[stdout.index("edgehook demo:"):]
    readings = int(re.search(r"readings sent\s+(\d+)", summary).group(1))
    events = int(re.search(r"events stored\s+(\d+)", summary).group(1))
    delivered = int(re.search(r"delivered (\d+)", summary).group(1))
    failed = int(re.search(r"failed (\d+)", summary).group(1))
    posts, messages, verified = map(int, re.search(
        r"webhook posts\s+(\d+) for (\d+) messages \((\d+) signatures verified\)", summary).groups())
    assert readings > 0 and events > 0 and delivered > 0 and failed == 0
    assert events <= readings and delivered <= events and messages <= events
    assert verified == posts  # every request carried a valid Standard Webhooks signature
    assert "latency" in summary
    assert _processes_using(work) == []  # cloud, bridge and board all stopped


def test_demo_delivers_and_stops_everything(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    out = subprocess.run([sys.executable, "-m", "edgehook", "demo", "--duration", "20", "--plain", "--dir", str(work)],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    _check_summary(out.stdout, work)
    # at the end the board stops and what is in flight settles: every reading ends delivered
    summary = out.stdout[out.stdout.index("edgehook demo:"):]
    counts = [int(re.search(pattern, summary).group(1))
              for pattern in (r"readings sent\s+(\d+)", r"events stored\s+(\d+)", r"delivered (\d+)")]
    assert counts[0] == counts[1] == counts[2], summary
    assert "still in flight" not in summary


def test_demo_stops_on_ctrl_c_with_a_summary(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "edgehook", "demo", "--plain", "--dir", str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:  # plain status lines every 5 s: wait for a delivery, then Ctrl-C
        lines.append(line)
        m = re.search(r"delivered (\d+)", line)
        if (m and int(m.group(1)) > 0) or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + rest
    _check_summary("".join(lines) + rest, work)


def test_a_part_that_dies_ends_the_demo_and_its_logs_stay(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the demo's temporary folder lands here
    proc = subprocess.Popen([sys.executable, "-m", "edgehook", "demo", "--plain"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the first status line: everything has started
            if "deliveries" in line:
                break
        (bridge,) = [p for p in _processes_using(tmp_path) if " bridge " in p]
        os.kill(int(bridge.split(":")[0]), signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, out + err
    assert "edgehook: demo: bridge stopped" in err
    kept = Path(re.search(r"logs kept in (\S+)", err).group(1))
    assert kept.parent == tmp_path and (kept / "bridge.log").exists()  # what the hint points to is there
    assert _processes_using(tmp_path) == []


def test_a_dir_it_cannot_make_is_one_line_and_exit_1(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    out = subprocess.run([sys.executable, "-m", "edgehook", "demo", "--dir", str(afile / "sub"), "--duration", "5"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.startswith("edgehook: cannot use "), out.stderr
    assert "Traceback" not in out.stderr
