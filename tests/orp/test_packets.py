"""Packet building and value encodings of the host codec."""

import pytest

from edgehook.orp import DataType, OrpError, Packet, Status, decode_value, encode_value, parse


def test_v1_peer_segment_round_trips_as_ascii_01():
    pkt = Packet(type="P", flag="N", seq=None, path="v/value", data=b"1")
    assert pkt.encode() == b"PN01Pv/value,D1"


def test_push_fields_and_status_names():
    pkt = Packet(type="P", flag="N", seq=513, path="env/temp/value", timestamp=1700000000.5, data=b"21.5")
    payload = pkt.encode()
    assert payload == b"PN\x02\x01Penv/temp/value,T1700000000.500000,D21.5"
    back = parse(payload)
    assert (back.path, back.timestamp, back.data, back.seq) == ("env/temp/value", 1700000000.5, b"21.5", 513)
    assert parse(b"pN\x02\x01").status is Status.DUPLICATE


@pytest.mark.parametrize("raw", [b"t", b"1", b"True", b"true"])
def test_boolean_true_forms(raw):
    assert decode_value("B", raw) is True


@pytest.mark.parametrize("raw", [b"f", b"0", b"False", b"false"])
def test_boolean_false_forms(raw):
    assert decode_value("B", raw) is False


def test_value_encodings():
    assert encode_value(DataType.BOOLEAN, True) == b"1"
    assert encode_value(DataType.NUMERIC, 23.7) == b"23.7"
    assert encode_value(DataType.NUMERIC, 5.0) == b"5"
    assert encode_value(DataType.TRIGGER, None) is None
    assert encode_value(DataType.JSON, {"a": [1]}) == b'{"a":[1]}'
    assert decode_value("J", b'{"a":[1]}') == {"a": [1]}
    assert decode_value("T", None) is None


@pytest.mark.parametrize(
    "dtype,raw",
    [("N", b"abc"), ("N", b"nan"), ("B", b"yes"), ("J", b"{"), ("S", b"\xff"), ("N", None)],
)
def test_bad_values_raise_orp_error(dtype, raw):
    with pytest.raises(OrpError) as info:
        decode_value(dtype, raw)
    assert info.value.field == "D"


def test_bad_fields_refused_on_build():
    with pytest.raises(OrpError):
        Packet(type="P", flag="N", seq=70000, path="a").encode()
    with pytest.raises(OrpError):
        Packet(type="I", flag="N", path="a,b").encode()
