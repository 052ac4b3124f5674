# Runs inside the MicroPython unix port: the board codec (firmware/lib/orp.py) on the shared vectors.
# usage: micropython mp_vectors.py <firmware/lib> <orp.json>; prints one JSON document.
import gc
import json
import sys
from binascii import hexlify, unhexlify

sys.path.insert(0, sys.argv[1])
import orp  # noqa: E402


def hx(b):
    return hexlify(bytes(b)).decode()


def feed_all(d, wire):
    out = []
    for b in wire:
        r = d.feed(b)
        if r is not None:
            out.append(hx(r))
    return out


def stats(d):
    return {"frames": d.frames, "crc_errors": d.crc_errors, "oversize": d.oversize, "junk_bytes": d.junk}


def run(vec):
    enc = orp.Encoder(vec["max_frame"])
    res = {"frames": [], "invalid_packets": [], "wire": []}
    for v in vec["frames"]:
        payload = unhexlify(v["payload_hex"])
        d = orp.Deframer(vec["max_frame"])
        item = {
            "name": v["name"],
            "crc": "%04X" % orp.crc16(payload),
            "frame_hex": hx(enc.frame_payload(payload, len(payload))),
            "decoded": feed_all(d, unhexlify(v["frame_hex"])),
            "stats": stats(d),
        }
        try:
            t, f, seq, fields = orp.parse(memoryview(payload))
            item["packet"] = {"type": chr(t), "flag": chr(f), "seq": seq,
                              "fields": {k: hx(x) for k, x in (fields or {}).items()}}
        except orp.OrpError as e:
            item["error"] = e.args[0]
        res["frames"].append(item)
    for v in vec["invalid_packets"]:
        try:
            orp.parse(memoryview(unhexlify(v["payload_hex"])))
            res["invalid_packets"].append({"name": v["name"], "field": None})
        except orp.OrpError as e:
            res["invalid_packets"].append({"name": v["name"], "field": e.args[0]})
    for v in vec["wire"]:
        d = orp.Deframer(vec["max_frame"])
        got = feed_all(d, unhexlify(v["wire_hex"]))
        d.finish()
        res["wire"].append({"name": v["name"], "payloads_hex": got, "stats": stats(d)})
    # building packets field by field
    res["built"] = [
        hx(enc.frame("P", "N", None, path="val/tp/value", data="23.7")),
        hx(enc.frame("I", "B", None, path="val/value", units="bool")),
        hx(enc.frame("Y", "1", 0x3031, ts=315964892, extra=(("S", 0), ("R", 0)))),
        hx(enc.frame("P", "N", 7, path="a/value", ts=1700000000, ts_us=250000, data=-12.5)),
        hx(enc.frame("P", "N", 7, path="a/value", data=42)),
    ]
    # framing allocates nothing per byte: a short and a maximum-length frame cost the same
    res["deframe_alloc"] = []
    for v in (vec["frames"][3], [f for f in vec["frames"] if f["name"].startswith("maximum")][0]):
        frame = unhexlify(v["frame_hex"])
        d = orp.Deframer(vec["max_frame"])
        feed_all(d, frame)
        gc.collect()
        before = gc.mem_alloc()
        for b in frame:
            d.feed(b)
        res["deframe_alloc"].append((len(frame), gc.mem_alloc() - before))
    # the allocation-free paths: build() into enc.out, feed_n() into d.buf, parse(buf, n) of an ack
    d = orp.Deframer(vec["max_frame"])
    ack = unhexlify(vec["frames"][2]["frame_hex"])  # p@01
    n = enc.build("P", "N", 7, path=b"a/value", ts=1700000000, ts_us=250000, data=12)
    for b in ack:
        d.feed_n(b)
    gc.collect()
    before = gc.mem_alloc()
    n = enc.build("P", "N", 7, path=b"a/value", ts=1700000000, ts_us=250000, data=12)
    got = 0
    for b in ack:
        got = got or d.feed_n(b)
    res["zero_alloc"] = gc.mem_alloc() - before
    before = gc.mem_alloc()
    t, f, seq, fields = orp.parse(d.buf, got)
    res["parse_ack_alloc"] = gc.mem_alloc() - before
    res["zero_alloc_frame"] = hx(enc.out[:n])
    res["zero_alloc_ack"] = [chr(t), chr(f), seq, fields]
    gc.collect()
    before = gc.mem_alloc()
    enc.frame("P", "N", 7, path="a/value", ts=1700000000, ts_us=250000, data=12)
    res["encode_alloc"] = gc.mem_alloc() - before
    return res


print(json.dumps(run(json.load(open(sys.argv[2])))))
