"""Benchmark of the bridge, each figure next to a baseline measured in the same run.

1. Acked pushes/s over a pty from a scripted asset that keeps a window of pushes in flight
   (CPU-bound), compared with the line limit of the same frames at 921600 baud.
2. Outbox durable enqueue/s (SQLite WAL, synchronous=FULL, answer after commit), one reading per
   commit and in group commits, next to a bare SQLite insert loop with the same durability.
3. CPU % of a bridge process (with uploads to a local cloud) while an asset pushes at the line
   rate of 115200 baud.

usage: python bench/bridge.py [--pushes N] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgehook.bridge.outbox import Outbox, Reading  # noqa: E402
from edgehook.bridge.service import Bridge, BridgeConfig  # noqa: E402
from edgehook.orp import Deframer, Packet, parse  # noqa: E402

T0 = 1_750_000_000.0


class Pty:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.deframer = Deframer()

    def read(self, timeout: float) -> list[Packet]:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return []
        return [parse(p) for p in self.deframer.feed(os.read(self.master, 65536))]

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def push_frame(i: int) -> bytes:
    return Packet("P", "N", (i % 65000) + 1, path="env/temp/value", timestamp=T0 + i * 0.001,
                  data=f"{20 + (i % 1000) / 100:.2f}".encode()).frame()


def handshake(pty: Pty) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pkt in pty.read(0.1):
            if pkt.type == "Y":
                pty.write(Packet("y", "@", pkt.seq).frame())
                pty.write(Packet("I", "N", 1, path="env/temp/value", units="degC").frame())
            if pkt.type == "i":
                return
    raise SystemExit("the bridge never answered")


def acked_pushes(n: int, window: int = 64) -> tuple[float, int]:
    """Pushes acked per second with `window` in flight; and the bytes of one frame."""
    with tempfile.TemporaryDirectory() as tmp:
        pty = Pty()
        bridge = Bridge(BridgeConfig(port=pty.port, device="bench", outbox=Path(tmp) / "o.db",
                                     max_records=n + 10, sync_interval=0.5))
        bridge.start()
        try:
            handshake(pty)
            sent = acked = 0
            start = time.perf_counter()
            while acked < n:
                if sent - acked < window and sent < n:
                    burst = min(window - (sent - acked), n - sent)
                    pty.write(b"".join(push_frame(sent + k) for k in range(burst)))
                    sent += burst
                for pkt in pty.read(1.0):
                    if pkt.type == "p":
                        if pkt.flag != "@":
                            raise SystemExit(f"push refused: {pkt.flag}")
                        acked += 1
            elapsed = time.perf_counter() - start
        finally:
            bridge.stop()
            pty.close()
    return n / elapsed, len(push_frame(1234))


def outbox_rates(n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        box = Outbox(Path(tmp) / "single.db", max_records=10 * n)
        start = time.perf_counter()
        for i in range(n):
            box.add(Reading("bench", "env/temp/value", T0 + i, "N", 20.5))
        out["outbox_single"] = n / (time.perf_counter() - start)
        box.close()
        box = Outbox(Path(tmp) / "group.db", max_records=10 * n)
        start = time.perf_counter()
        for i in range(0, n, 32):
            box.add_many([Reading("bench", "env/temp/value", T0 + i + k, "N", 20.5) for k in range(32)])
        out["outbox_group32"] = n / (time.perf_counter() - start)
        box.close()
        db = sqlite3.connect(Path(tmp) / "bare.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, key TEXT UNIQUE, value TEXT)")
        start = time.perf_counter()
        for i in range(n):
            db.execute("BEGIN")
            db.execute("INSERT INTO t (key, value) VALUES (?, ?)", (f"k{i}", "20.5"))
            db.execute("COMMIT")
        out["bare_single"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(0, n, 32):
            db.execute("BEGIN")
            db.executemany("INSERT INTO t (key, value) VALUES (?, ?)",
                           [(f"g{i + k}", "20.5") for k in range(32)])
            db.execute("COMMIT")
        out["bare_group32"] = n / (time.perf_counter() - start)
        db.close()
    return out


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def cpu_at_line_rate(seconds: float, offline: bool, baud: int = 115200) -> dict[str, float]:
    from tests.fixtures.cloud import start_local_cloud

    frame_len = len(push_frame(1234))
    rate = baud / 10 / frame_len  # frames per second the line carries
    with tempfile.TemporaryDirectory() as tmp:
        cloud = None if offline else start_local_cloud(Path(tmp) / "cloud", manual_clock=False)
        pty = Pty()
        env = dict(os.environ, **(cloud.env() if cloud else {}))
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgehook", "bridge", "--port", pty.port, "--device", "bench",
             "--outbox", str(Path(tmp) / "o.db"), "--plain", "--status-every", "3600",
             *(["--offline"] if offline else [])],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            handshake(pty)
            stop = threading.Event()
            acked = [0]

            def reader() -> None:
                while not stop.is_set():
                    acked[0] += sum(1 for p in pty.read(0.1) if p.type == "p" and p.flag == "@")

            t = threading.Thread(target=reader, daemon=True)
            t.start()
            hz = os.sysconf("SC_CLK_TCK")
            ticks0, start, i = cpu_ticks(proc.pid), time.monotonic(), 0
            while (now := time.monotonic()) - start < seconds:
                due = int((now - start) * rate)
                if due > i:
                    pty.write(b"".join(push_frame(k) for k in range(i, due)))
                    i = due
                time.sleep(0.005)
            elapsed = time.monotonic() - start
            cpu = (cpu_ticks(proc.pid) - ticks0) / hz
            deadline = time.monotonic() + 10
            while acked[0] < i and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            t.join(2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            pty.close()
            if cloud:
                cloud.stop()
    return {"line_rate": rate, "sent": i, "acked": acked[0], "cpu_pct": 100 * cpu / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pushes", type=int, default=5000, help="pushes for the throughput figures")
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of the CPU measurement")
    args = ap.parse_args()

    rate, frame_len = acked_pushes(args.pushes)
    line = 921600 / 10 / frame_len
    print(f"acked pushes over a pty: {rate:,.0f}/s; line limit at 921600 baud for {frame_len}-byte "
          f"frames: {line:,.0f}/s; ratio {rate / line:.2f}")
    o = outbox_rates(min(args.pushes, 2000))
    print(f"outbox durable enqueue, one per commit: {o['outbox_single']:,.0f}/s vs bare SQLite "
          f"insert+commit {o['bare_single']:,.0f}/s (ratio {o['outbox_single'] / o['bare_single']:.2f})")
    print(f"outbox durable enqueue, 32 per commit: {o['outbox_group32']:,.0f}/s vs bare SQLite "
          f"{o['bare_group32']:,.0f}/s (ratio {o['outbox_group32'] / o['bare_group32']:.2f})")
    for offline in (True, False):
        c = cpu_at_line_rate(args.seconds, offline)
        what = "--offline (serial side and outbox only)" if offline else "uploading to a local cloud"
        print(f"bridge process at 115200-baud line rate ({c['line_rate']:.0f} pushes/s), {what}: "
              f"CPU {c['cpu_pct']:.1f} % of one core; {c['acked']}/{c['sent']} acked")


if __name__ == "__main__":
    main()
