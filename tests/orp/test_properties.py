"""Property tests of the host codec: round trips, no exceptions on garbage, no corrupt frame accepted."""

import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from edgehook.orp import Deframer, encode_frame

payloads = st.binary(min_size=1, max_size=1024)


def reference_frames(data: bytes, max_frame: int) -> list[bytes]:
    """An independent, obvious decoder: every flag-terminated segment whose CRC matches."""
    out = []
    for seg in data.split(b"\x7e")[:-1]:
        if not seg:
            continue
        parts = seg.split(b"\x7d")
        raw = bytearray(parts[0])
        ok = True
        for part in parts[1:]:
            if not part:
                ok = False
                break
            raw.append(part[0] ^ 0x20)
            raw += part[1:]
        if not ok or len(raw) < 3 or len(raw) - 2 > max_frame:
            continue
        if binascii.crc_hqx(bytes(raw[:-2]), 0xFFFF) == int.from_bytes(raw[-2:], "big"):
            out.append(bytes(raw[:-2]))
    return out


@given(st.lists(payloads, min_size=1, max_size=8), st.integers(min_value=1, max_value=64))
def test_encode_decode_round_trip_any_chunking(items, chunk):
    wire = b"".join(encode_frame(p) for p in items)
    d = Deframer()
    got = []
    for i in range(0, len(wire), chunk):
        got += d.feed(wire[i : i + chunk])
    assert got == items
    assert d.stats.frames == len(items)
    assert d.stats.crc_errors == d.stats.oversize == d.stats.junk_bytes == 0


frame_soup = st.lists(
    st.one_of(st.binary(max_size=64), payloads.map(encode_frame), st.just(b"\x7e"), st.just(b"\x7d")),
    max_size=12,
).map(b"".join)


@settings(max_examples=300)
@given(frame_soup, st.integers(min_value=1, max_value=2048))
def test_decoder_never_raises_and_yields_exactly_the_crc_valid_segments(data, max_frame):
    d = Deframer(max_frame=max_frame)
    got = d.feed(data)
    d.finish()
    assert got == reference_frames(data, max_frame)
    assert d.stats.frames == len(got)


@settings(max_examples=300)
@given(payloads, st.data())
def test_corrupting_a_frame_never_yields_a_payload_whose_crc_did_not_match(payload, data):
    wire = bytearray(encode_frame(payload))
    pos = data.draw(st.integers(min_value=1, max_value=len(wire) - 2))  # inside the flags
    how = data.draw(st.sampled_from(["flip", "drop", "insert"]))
    original = wire[pos]
    if how == "flip":
        wire[pos] ^= data.draw(st.integers(min_value=1, max_value=255))
    elif how == "drop":
        del wire[pos]
    else:
        wire.insert(pos, data.draw(st.integers(min_value=0, max_value=255)))
    d = Deframer()
    got = d.feed(bytes(wire))
    assert got == reference_frames(bytes(wire), 1024)
    if how == "flip" and original not in (0x7D, 0x7E) and wire[pos] not in (0x7D, 0x7E):
        # one changed byte inside a frame is always caught by CRC-16
        assert got == []
        assert d.stats.crc_errors == 1
