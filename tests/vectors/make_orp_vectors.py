"""Write tests/vectors/orp.json: ORP frames both codecs must agree on.

Uses only the standard library (binascii.crc_hqx is CRC-16/CCITT-FALSE), not edgehook's codec,
so the vectors check the codecs instead of echoing them. The captured frames' CRCs come from
a real Octave device and are asserted here.
"""

import binascii
import json
import pathlib


def crc(p: bytes) -> int:
    return binascii.crc_hqx(p, 0xFFFF)


def esc(b: bytes) -> bytes:
    return b.replace(b"\x7d", b"\x7d\x5d").replace(b"\x7e", b"\x7d\x5e")


def frame(p: bytes) -> bytes:
    c = crc(p)
    return b"\x7e" + esc(p + bytes((c >> 8, c & 0xFF))) + b"\x7e"


CAPTURED = [
    ("captured: create input numeric", b"IB01Pval/value,Unum", 0x3378),
    ("captured: create input response", b"i@01", 0x102F),
    ("captured: push response", b"p@01", 0xF8FF),
    ("captured: push numeric", b"PN01Pval/tp/value,D23.7", 0x1334),
    ("captured: create input bool (escaped CRC byte)", b"IB01Pval/value,Ubool", 0x7EE8),
    ("captured: SYNC v2", b"Y101T315964892.000000,S0,R0", None),
    ("captured: handler call", b"c@01T1585927713.843660,Pval/od/value,D456.000000", None),
]


def find_crc_with(byte: int) -> bytes:
    for i in range(100000):
        p = b"PS\x00\x01Pa/value,Dx" + str(i).encode()
        c = crc(p)
        if (c >> 8) == byte or (c & 0xFF) == byte:
            return p
    raise AssertionError


def packets():
    """(name, payload, expected parse) for every packet type and the edge cases."""
    out = []
    seq = b"\x00\x07"
    for t, flag in [("I", "N"), ("O", "B"), ("S", "J")]:
        out.append((f"create {t}", t.encode() + flag.encode() + seq + b"Psensor/x/value,Udeg C",
                    {"type": t, "flag": flag, "seq": 7, "path": "sensor/x/value", "units": "deg C"}))
    for t in "DHKGR":
        out.append((f"request {t}", t.encode() + b"." + seq + b"Pa/b",
                    {"type": t, "flag": ".", "seq": 7, "path": "a/b"}))
    out.append(("push with timestamp", b"PN" + seq + b"Pa/value,T1700000000.250000,D-12.5",
                {"type": "P", "flag": "N", "seq": 7, "path": "a/value", "timestamp": 1700000000.25, "data": "-12.5"}))
    out.append(("push trigger without data", b"PT" + seq + b"Pbtn/value",
                {"type": "P", "flag": "T", "seq": 7, "path": "btn/value"}))
    out.append(("push string with commas", b"PS" + seq + b"Pmsg/value,Da,b,,c",
                {"type": "P", "flag": "S", "seq": 7, "path": "msg/value", "data": "a,b,,c"}))
    out.append(("push empty data", b"PS" + seq + b"Pmsg/value,D",
                {"type": "P", "flag": "S", "seq": 7, "path": "msg/value", "data": ""}))
    out.append(("example json", b"EJ" + seq + b"Pcfg/value,D{\"a\":[1,2]}",
                {"type": "E", "flag": "J", "seq": 7, "path": "cfg/value", "data": "{\"a\":[1,2]}"}))
    for t in "iodhkpgesrCB":
        out.append((f"response {t}", t.encode() + b"N" + seq, {"type": t, "flag": "N", "seq": 7, "status": "DUPLICATE"}))
    out.append(("get response with value", b"g@" + seq + b"T12.5,D1",
                {"type": "g", "flag": "@", "seq": 7, "timestamp": 12.5, "data": "1", "status": "OK"}))
    out.append(("sensor call", b"b." + seq + b"Pimu/temp",
                {"type": "b", "flag": ".", "seq": 7, "path": "imu/temp"}))
    out.append(("sync with mtu", b"Y1\x01\x02T1.5,S10,R9,M512",
                {"type": "Y", "flag": "1", "seq": 258, "timestamp": 1.5, "sent": 10, "received": 9, "mtu": 512}))
    out.append(("sync response", b"y1\x01\x02", {"type": "y", "flag": "1", "seq": 258}))
    out.append(("unknown request response", b"?R\x00\x00", {"type": "?", "flag": "R", "seq": 0, "status": "UNSUPPORTED"}))
    out.append(("v1 segment", b"PN01Pv/value,D1", {"type": "P", "flag": "N", "seq": 0x3031, "path": "v/value", "data": "1"}))
    out.append(("sequence bytes are flags", b"PN\x7e\x7dPv/value,D1", {"type": "P", "flag": "N", "seq": 0x7E7D, "path": "v/value", "data": "1"}))
    out.append(("flag and escape in data", b"PS" + seq + b"Pv/value,D~}~}x",
                {"type": "P", "flag": "S", "seq": 7, "path": "v/value", "data": "~}~}x"}))
    out.append(("ctrl-c in data", b"PS\x03\x03Pv/value,D\x03\x03",
                {"type": "P", "flag": "S", "seq": 0x0303, "path": "v/value", "data": "\x03\x03"}))
    p = find_crc_with(0x7E)
    out.append(("0x7E in the CRC", p, None))
    p = find_crc_with(0x7D)
    out.append(("0x7D in the CRC", p, None))
    maxp = b"PS" + seq + b"Pv/value,D"
    maxp += b"x" * (1024 - len(maxp))
    out.append(("maximum length (1024)", maxp, {"type": "P", "flag": "S", "seq": 7, "path": "v/value", "data": "x" * (1024 - 14)}))
    return out


INVALID_PACKETS = [
    ("shorter than the header", b"p@0", "header"),
    ("unknown type", b"X@01", "type"),
    ("missing path", b"IN01Unum", "P"),
    ("empty path", b"PN01P,D1", "P"),
    ("bad status byte", b"p!01", "status"),
    ("bad data type", b"IZ01Pa/value", "dtype"),
    ("unknown field", b"PN01Pa/value,Q1,D2", "field"),
    ("bad timestamp", b"PN01Pa/value,Tnoon,D2", "T"),
    ("example without data", b"EJ01Pa/value", "D"),
]


def wire_cases():
    ok = frame(b"p@01")
    good = frame(b"PN01Pval/tp/value,D23.7")
    bad_crc = bytearray(good)
    bad_crc[-2] ^= 0x01
    big = b"PS\x00\x01Pv/value,D" + b"y" * 1100
    return [
        ("bad CRC", bytes(bad_crc), {"frames": 0, "crc_errors": 1, "oversize": 0, "junk_bytes": 0}, []),
        ("unterminated", good[:-1], {"frames": 0, "crc_errors": 0, "oversize": 0, "junk_bytes": len(good) - 2}, []),
        ("oversize (1025 bytes)", frame(b"PS\x00\x01Pv/value,D" + b"z" * (1025 - 14)),
         {"frames": 0, "crc_errors": 0, "oversize": 1, "junk_bytes": 0}, []),
        ("oversize then a good frame", frame(big) + ok, {"frames": 1, "crc_errors": 0, "oversize": 1, "junk_bytes": 0}, [b"p@01"]),
        ("junk before and between frames", b"hello" + ok + b"\x00\x03noise" + ok,
         {"frames": 2, "crc_errors": 0, "oversize": 0, "junk_bytes": 12}, [b"p@01", b"p@01"]),
        ("flag shared between frames", ok + ok[1:], {"frames": 2, "crc_errors": 0, "oversize": 0, "junk_bytes": 0}, [b"p@01", b"p@01"]),
        ("repeated flags (wake-up preamble)", b"\x7e\x7e\x7e" + ok, {"frames": 1, "crc_errors": 0, "oversize": 0, "junk_bytes": 0}, [b"p@01"]),
        ("escape before the closing flag", b"\x7eabc\x7d\x7e" + ok, {"frames": 1, "crc_errors": 1, "oversize": 0, "junk_bytes": 0}, [b"p@01"]),
        ("too short to hold a CRC", b"\x7e\x01\x02\x7e" + ok, {"frames": 1, "crc_errors": 1, "oversize": 0, "junk_bytes": 0}, [b"p@01"]),
        ("corrupt frame then a good one", bytes(bad_crc) + good, {"frames": 1, "crc_errors": 1, "oversize": 0, "junk_bytes": 0},
         [b"PN01Pval/tp/value,D23.7"]),
    ]


def main() -> None:
    frames = []
    for name, payload, want in CAPTURED:
        c = crc(payload)
        if want is not None:
            assert c == want, (name, hex(c))
        frames.append({"name": name, "payload_hex": payload.hex(), "crc": f"{c:04X}", "frame_hex": frame(payload).hex()})
    assert frame(b"IB01Pval/value,Ubool").endswith(bytes.fromhex("7d5ee87e"))
    for name, payload, want in packets():
        entry = {"name": name, "payload_hex": payload.hex(), "crc": f"{crc(payload):04X}", "frame_hex": frame(payload).hex()}
        if want is not None:
            entry["packet"] = want
        frames.append(entry)
    doc = {
        "about": "ORP v2 vectors shared by the host codec (edgehook.orp) and the board codec (firmware/lib/orp.py). "
                 "Regenerate with: python tests/vectors/make_orp_vectors.py",
        "max_frame": 1024,
        "frames": frames,
        "invalid_packets": [{"name": n, "payload_hex": p.hex(), "field": f} for n, p, f in INVALID_PACKETS],
        "wire": [{"name": n, "wire_hex": w.hex(), "stats": s, "payloads_hex": [p.hex() for p in ps]} for n, w, s, ps in wire_cases()],
    }
    path = pathlib.Path(__file__).with_name("orp.json")
    path.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
