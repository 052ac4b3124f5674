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
