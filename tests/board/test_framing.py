"""FrameTracker: which 0x03 bytes from a client are Ctrl-C and which are frame data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edgehook.board.framing import FrameTracker
from edgehook.orp import encode_frame


def test_ctrl_c_outside_frames_is_reported() -> None:
    t = FrameTracker()
    assert t.feed(b"\r\x03\x03", 0.0) == [1, 2]


def test_ctrl_c_inside_a_frame_is_data_even_across_chunks() -> None:
    t = FrameTracker()
    assert t.feed(b"\x7e\x03\x03", 0.0) == []
    assert t.feed(b"\x03\x7e", 0.01) == []
    assert t.feed(b"\x03", 0.02) == [0]  # the frame closed


def test_empty_frame_keeps_the_frame_open() -> None:
    t = FrameTracker()
    assert t.feed(b"\x7e\x7e\x03\x7e", 0.0) == []


def test_idle_gap_gives_up_an_unclosed_frame() -> None:
    t = FrameTracker(idle_reset=0.25)
    assert t.feed(b"\x7e\x01\x02", 0.0) == []
    assert t.feed(b"\x03", 0.1) == []
    assert t.feed(b"\x03", 1.0) == [0]


def test_overlong_frame_is_given_up() -> None:
    t = FrameTracker(max_frame=10)
    assert t.feed(b"\x7e" + b"a" * 11 + b"\x03", 0.0) == [12]


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_no_byte_of_an_orp_frame_is_ever_ctrl_c(payloads: list[bytes]) -> None:
    t = FrameTracker()
    for p in payloads:
        assert t.feed(encode_frame(p), 0.0) == []
    assert t.feed(b"\x03", 0.0) == [0]
