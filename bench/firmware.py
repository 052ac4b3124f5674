"""Benchmark of the firmware on the virtual board: acked readings per second over the pty (against
a bare MicroPython push/ack loop on the same board as the baseline), heap high-water mark, bytes
allocated per reading, and the smallest heap the firmware runs in.

    python bench/firmware.py [--seconds 5] [--heap 128k]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgehook.board.vboard import VirtualBoard  # noqa: E402
from edgehook.orp import Packet  # noqa: E402
from tests.firmware.edge import Edge, compiled_board  # noqa: E402

FAST = {"health": 1.0, "timeout": 0.5, "ring": 4000, "sensors": {
    f"bench/s{i}": {"type": "step", "hold": 1, "period": 0.01, "units": "n"} for i in range(3)}
    | {"env/temp": None, "env/level": None, "io/door": None}}
FRAME = Packet("P", "N", 1, path="bench/s0/value", timestamp=1764768000.25, data=b"1").frame()
# The protocol floor: push a prebuilt frame, wait for any ack, again; nothing else.
BASELINE = f"""
import sys, select
p = select.poll()
p.register(sys.stdin, select.POLLIN)
f = {FRAME!r}
one = bytearray(1)
while True:
    sys.stdout.buffer.write(f)
    flags = 0
    while flags < 2:
        p.poll(1000)
        sys.stdin.buffer.readinto(one)
        if one[0] == 0x7E:
            flags += 1
"""


def acked_rate(board: VirtualBoard, seconds: float, baseline: bool) -> tuple[float, Edge]:
    """Acked pushes per second. For the firmware: its buffer filled by a silent edge first, so
    that the link, not the sensors, sets the pace while the backlog drains."""
    edge = Edge(board.port)
    edge.wait(lambda p: p.type == "P", 15, "a first push")
    if not baseline:
        edge.sync()
        edge.wait_until(lambda: "health/link" in edge.resources, 15, "resources")
        edge.answer = lambda p: None if p.type == "P" else "@"
        time.sleep(seconds)
        edge.answer = None
    start, t0 = edge.push_mark(), time.monotonic()
    time.sleep(seconds)
    n, t1 = edge.push_mark(), time.monotonic()
    return (n - start) / (t1 - t0), edge


def runs_in(heap: str, seconds: float) -> tuple[float, float] | None:
    """(lowest free heap, median bytes allocated per reading) when the firmware boots, answers a
    handler call and keeps pushing in `heap` (default ring, 3 sensors at 100 Hz, an edge that
    answers at once: one push per reading); None when it does not."""
    with tempfile.TemporaryDirectory() as tmp, \
            VirtualBoard(compiled_board(Path(tmp)), heap=heap, config=dict(FAST, ring=128)) as board:
        edge = Edge(board.port)
        try:
            edge.wait(lambda p: p.type == "P", 10, "a first push")
            edge.sync()
            if edge.call("bench/s0/period", b"0.02").flag != "@":
                return None
            start = edge.push_mark()
            time.sleep(seconds)
            if edge.push_mark() - start < 50 or b"MemoryError" in edge.raw:
                return None
            allocs = sorted(float(p.data or b"0") for p in edge.values("health/alloc", start))
            return (min(float(p.data or b"0") for p in edge.values("health/heap_min")),
                    allocs[len(allocs) // 2])
        except (AssertionError, ValueError):
            return None
        finally:
            edge.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each measurement")
    ap.add_argument("--heap", default="128k", help="heap of the throughput run")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        flash = compiled_board(Path(tmp))
        (flash / "main.py").write_text(BASELINE)
        with VirtualBoard(flash, heap=args.heap) as board:
            base, edge = acked_rate(board, args.seconds, baseline=True)
            edge.close()
    with tempfile.TemporaryDirectory() as tmp, \
            VirtualBoard(compiled_board(Path(tmp)), heap=args.heap, config=FAST) as board:
        rate, edge = acked_rate(board, args.seconds, baseline=False)
        edge.wait_until(lambda: len(edge.values("health/alloc")) >= 2, 10, "health")
        heap_min = min(float(p.data or b"0") for p in edge.values("health/heap_min"))
        alloc = [float(p.data or b"0") for p in edge.values("health/alloc")][1:]
        link = json.loads(edge.values("health/link")[-1].data or b"{}")
        edge.close()
    smallest, found = "more than 128k", None
    for size in [f"{k}k" for k in range(48, 129, 8)]:
        found = runs_in(size, 3.0)
        if found is not None:
            smallest = size
            break

    print(f"baseline (bare push/ack loop on the board): {base:8.0f} acks/s")
    print(f"firmware, draining its buffer:               {rate:8.0f} acked readings/s "
          f"({rate / base:.2f} of the baseline)")
    print(f"heap {args.heap}, ring of 4000: lowest free after a collection {heap_min:.0f} B "
          f"(high-water mark {_bytes(args.heap) - heap_min:.0f} B)")
    print(f"allocated per reading while draining (all tasks): median "
          f"{sorted(alloc)[len(alloc) // 2]:.0f} B, max {max(alloc):.0f} B")
    print(f"link: {link}")
    if found:
        print(f"smallest heap that runs the firmware (8k steps, default ring): {smallest}; there "
              f"lowest free {found[0]:.0f} B, allocated per reading (steady) {found[1]:.0f} B")
    else:
        print(f"smallest heap that runs the firmware: {smallest}")


def _bytes(heap: str) -> int:
    return int(heap[:-1]) * 1024 if heap[-1] in "kK" else int(heap)


if __name__ == "__main__":
    main()
