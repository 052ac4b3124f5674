"""`edgehook orp encode|decode` as a user runs them: a real process, files and pipes."""

import json
import random
import subprocess
import sys

from edgehook.orp import encode_frame


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "edgehook", "orp", *args], input=stdin,
                          capture_output=True, timeout=120)


def test_encode_prints_the_captured_frame_as_hex():
    proc = run("encode", "IB01Pval/value,Ubool")
    assert proc.returncode == 0
    assert proc.stdout.decode().strip() == "7e494230315076616c2f76616c75652c55626f6f6c7d5ee87e"


def test_encode_accepts_byte_escapes_and_hex():
    assert run("encode", r"PN\x00\x07Pa/value,D1").stdout.strip() == encode_frame(b"PN\x00\x07Pa/value,D1").hex().encode()
    assert run("encode", "--hex", "69403031").stdout.strip() == b"7e69403031102f7e"


def test_decode_hex_from_stdin():
    proc = run("decode", "--hex", "-", stdin=b"7e 50 4e 30 31 50 76 61 6c 2f 74 70 2f 76 61 6c 75 65 2c 44 32 33 2e 37 13 34 7e\n")
    assert proc.returncode == 0
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["name"] == "push" and record["path"] == "val/tp/value" and record["data"] == "23.7"
    assert record["raw_hex"] == b"PN01Pval/tp/value,D23.7".hex()
    assert b"frames=1 crc_errors=0 oversize=0 junk_bytes=0" in proc.stderr


def test_decode_reports_a_crc_valid_but_malformed_packet():
    proc = run("decode", "-", stdin=encode_frame(b"X@01"))
    (record,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert record["error"]["field"] == "type"
    assert b"invalid_packets=1" in proc.stderr


def test_bad_input_is_one_line_with_a_hint_and_exit_1():
    proc = run("decode", "--hex", "-", stdin=b"7e zz\n")
    assert proc.returncode == 1
    lines = proc.stderr.decode().splitlines()
    assert lines[0] == "edgehook: line 1 is not hex"
    assert lines[1].startswith("  hint:")
    assert b"Traceback" not in proc.stderr
    missing = run("decode", "/no/such/capture.bin")
    assert missing.returncode == 1 and missing.stderr.startswith(b"edgehook: ")


def test_one_megabyte_capture_of_noise_and_frames_decodes_with_exact_counts(tmp_path):
    rng = random.Random(20261203)
    out = bytearray()
    want = {"frames": 0, "crc_errors": 0, "oversize": 0, "junk_bytes": 0}
    payloads = []
    while len(out) < 1_000_000:
        kind = rng.random()
        if kind < 0.35:  # noise without flags, between frames
            junk = bytes(rng.choice([b for b in range(256) if b != 0x7E]) for _ in range(rng.randint(1, 300)))
            out += junk
            want["junk_bytes"] += len(junk)
        elif kind < 0.85:
            payload = b"PN" + rng.randbytes(2) + b"Ps/value,D" + str(rng.random()).encode()
            out += encode_frame(payload)
            payloads.append(payload)
            want["frames"] += 1
        elif kind < 0.97:  # one byte changed inside the frame: CRC-16 always catches it
            frame = bytearray(encode_frame(b"PS\x00\x01Pm/value,D" + rng.randbytes(rng.randint(1, 200))))
            while True:
                pos = rng.randrange(1, len(frame) - 1)
                new = frame[pos] ^ rng.randint(1, 255)
                if frame[pos] not in (0x7D, 0x7E) and new not in (0x7D, 0x7E):
                    break
            frame[pos] = new
            out += frame
            want["crc_errors"] += 1
        else:
            out += encode_frame(b"PS\x00\x01Pbig/value,D" + b"x" * rng.randint(1100, 3000))
            want["oversize"] += 1
    capture = tmp_path / "capture.bin"
    capture.write_bytes(out)
    proc = run("decode", str(capture))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [bytes.fromhex(r["raw_hex"]) for r in records] == payloads
    assert all("error" not in r for r in records)
    summary = proc.stderr.decode().strip().splitlines()[-1]
    assert summary == (f"frames={want['frames']} crc_errors={want['crc_errors']} oversize={want['oversize']} "
                       f"junk_bytes={want['junk_bytes']} invalid_packets=0")
