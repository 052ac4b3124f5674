"""The host codec against the shared ORP vectors (captured frames, every packet type, bad input)."""

import json
import pathlib

import pytest

from edgehook.orp import Deframer, OrpError, crc16, encode_frame, parse

VECTORS = json.loads((pathlib.Path(__file__).parents[1] / "vectors" / "orp.json").read_text())


@pytest.mark.parametrize("vec", VECTORS["frames"], ids=lambda v: v["name"])
def test_frame_vector(vec):
    payload = bytes.fromhex(vec["payload_hex"])
    assert f"{crc16(payload):04X}" == vec["crc"]
    assert encode_frame(payload).hex() == vec["frame_hex"]
    d = Deframer(max_frame=VECTORS["max_frame"])
    assert d.feed(bytes.fromhex(vec["frame_hex"])) == [payload]
    assert d.stats.as_dict() == {"frames": 1, "crc_errors": 0, "oversize": 0, "junk_bytes": 0}
    pkt = parse(payload)
    assert parse(pkt.encode()) == pkt  # timestamps are re-sent with 6 decimals
    want = vec.get("packet")
    if want:
        got = pkt.to_json()
        for key, value in want.items():
            assert got[key] == value, key


def test_captured_bool_frame_ends_with_escaped_crc():
    assert encode_frame(b"IB01Pval/value,Ubool")[-4:] == bytes.fromhex("7d5ee87e")


@pytest.mark.parametrize("vec", VECTORS["invalid_packets"], ids=lambda v: v["name"])
def test_invalid_packet(vec):
    with pytest.raises(OrpError) as info:
        parse(bytes.fromhex(vec["payload_hex"]))
    assert info.value.field == vec["field"]


@pytest.mark.parametrize("vec", VECTORS["wire"], ids=lambda v: v["name"])
def test_wire_case(vec):
    d = Deframer(max_frame=VECTORS["max_frame"])
    got = d.feed(bytes.fromhex(vec["wire_hex"]))
    d.finish()
    assert [p.hex() for p in got] == vec["payloads_hex"]
    assert d.stats.as_dict() == vec["stats"]


@pytest.mark.parametrize("vec", VECTORS["wire"], ids=lambda v: v["name"])
def test_wire_case_byte_by_byte(vec):
    """Chunk boundaries never change the result."""
    d = Deframer(max_frame=VECTORS["max_frame"])
    got = []
    for b in bytes.fromhex(vec["wire_hex"]):
        got += d.feed(bytes([b]))
    d.finish()
    assert [p.hex() for p in got] == vec["payloads_hex"]
    assert d.stats.as_dict() == vec["stats"]
