"""Benchmark of the ORP codecs: frames/s of the host codec next to a plain per-byte Python codec
measured in the same run (the ratio is the figure), and the board codec under MicroPython
(frames/s and bytes allocated per frame).

usage: python bench/orp_codec.py [--frames N]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

from edgehook.orp import Deframer, encode_frame

ROOT = pathlib.Path(__file__).parents[1]


def baseline_crc(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def baseline_encode(payload: bytes) -> bytes:
    out = bytearray(b"\x7e")
    crc = baseline_crc(payload)
    for b in payload + bytes((crc >> 8, crc & 0xFF)):
        if b in (0x7E, 0x7D):
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)


def baseline_decode(wire: bytes) -> list[bytes]:
    frames, buf, esc = [], bytearray(), False
    for b in wire:
        if b == 0x7E:
            if len(buf) >= 3 and baseline_crc(bytes(buf[:-2])) == (buf[-2] << 8 | buf[-1]):
                frames.append(bytes(buf[:-2]))
            buf.clear()
            esc = False
        elif esc:
            buf.append(b ^ 0x20)
            esc = False
        elif b == 0x7D:
            esc = True
        else:
            buf.append(b)
    return frames


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def payloads(n: int) -> list[bytes]:
    return [b"PN" + i.to_bytes(2, "big") + b"Penv/temp/value,T1700000000.%06d,D%d.%d" % (i, 20 + i % 10, i % 7)
            for i in range(n)]


def host(n: int) -> dict[str, float]:
    items = payloads(n)
    wire = b"".join(encode_frame(p) for p in items)
    assert baseline_decode(wire) == items and Deframer().feed(wire) == items
    enc = rate(lambda: [encode_frame(p) for p in items], n)
    enc_base = rate(lambda: [baseline_encode(p) for p in items], n)
    dec = rate(lambda: Deframer().feed(wire), n)
    dec_base = rate(lambda: baseline_decode(wire), n)
    return {"encode": enc, "encode_baseline": enc_base, "decode": dec, "decode_baseline": dec_base,
            "bytes_per_frame": len(wire) / n}


MP_SCRIPT = r"""
import sys, time, gc
sys.path.insert(0, sys.argv[1])
import orp
n = int(sys.argv[2])
e = orp.Encoder(); d = orp.Deframer()
frames = []
t0 = time.ticks_us()
for i in range(n):
    mv = e.frame("P", "N", i & 0xFFFF, path=b"env/temp/value", ts=1700000000, ts_us=i, data=i)
    frames.append(bytes(mv))
enc_us = time.ticks_diff(time.ticks_us(), t0)
wire = b"".join(frames)
t0 = time.ticks_us(); got = 0
for b in wire:
    if d.feed(b) is not None:
        got += 1
dec_us = time.ticks_diff(time.ticks_us(), t0)
gc.collect(); a0 = gc.mem_alloc()
for i in range(100):
    e.frame("P", "N", i, path=b"env/temp/value", ts=1700000000, ts_us=i, data=i)
enc_alloc = (gc.mem_alloc() - a0) / 100
one = frames[0]
gc.collect(); a0 = gc.mem_alloc()
for i in range(100):
    for b in one:
        d.feed(b)
dec_alloc = (gc.mem_alloc() - a0) / 100
print('{"encode": %f, "decode": %f, "frames": %d, "encode_alloc": %f, "decode_alloc": %f}' % (
    n * 1e6 / enc_us, n * 1e6 / dec_us, got, enc_alloc, dec_alloc))
"""


def micropython(n: int) -> dict[str, float] | None:
    exe = shutil.which("micropython", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("micropython")
    if not exe:
        return None
    proc = subprocess.run([exe, "-c", MP_SCRIPT, str(ROOT / "firmware" / "lib"), str(n)],
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20000, help="frames per measurement")
    args = ap.parse_args()
    h = host(args.frames)
    print(f"host codec, {args.frames} frames of {h['bytes_per_frame']:.0f} bytes")
    print(f"  encode: {h['encode']:>10,.0f} frames/s   per-byte baseline {h['encode_baseline']:>9,.0f}/s   "
          f"ratio {h['encode'] / h['encode_baseline']:.1f}x")
    print(f"  decode: {h['decode']:>10,.0f} frames/s   per-byte baseline {h['decode_baseline']:>9,.0f}/s   "
          f"ratio {h['decode'] / h['decode_baseline']:.1f}x")
    mp = micropython(min(args.frames, 5000))
    if mp is None:
        print("board codec: skipped (no micropython command)")
        return
    print(f"board codec under MicroPython (unix port), {min(args.frames, 5000)} frames")
    print(f"  encode: {mp['encode']:>10,.0f} frames/s   allocated {mp['encode_alloc']:.0f} bytes/frame")
    print(f"  decode: {mp['decode']:>10,.0f} frames/s   allocated {mp['decode_alloc']:.0f} bytes/frame")


if __name__ == "__main__":
    main()
