"""Whatever arrives on the wire, the edge session answers or counts it and never raises."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edgehook.bridge.outbox import Outbox
from edgehook.bridge.resources import ResourceTable
from edgehook.bridge.session import EdgeSession
from edgehook.orp import NAMES, Deframer, Packet, parse

TYPES = "IODHKPGESRYyCcBb?Zp"
payloads = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda t, f, seq, fields: (t + f).encode() + bytes((seq >> 8, seq & 0xFF)) + fields,
        st.sampled_from(TYPES), st.sampled_from("NBSJT @.01A"), st.integers(0, 0xFFFF),
        st.sampled_from([b"", b"Pa/value", b"Pa/value,D1", b"Pa/value,T12.5,D2", b"Pb,Ux",
                         b"P,D", b"Pa/value,Tnan,D1", b"Pa/value,D{\"k\":1}", b"Q1,Pa",
                         b"Pa/value,D\xff\xfe", b"P" + b"x" * 90])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(payloads, max_size=12))
def test_any_payloads_get_answers_or_counts_never_an_exception(batch):
    with tempfile.TemporaryDirectory() as tmp:
        out = bytearray()
        box = Outbox(Path(tmp) / "o.db", max_records=5)
        session = EdgeSession("d", ResourceTable(max_resources=4), box, out.extend)
        session.feed([Packet("I", "N", 1, path="a/value").encode()])
        session.feed(batch)
        answers = [parse(p) for p in Deframer().feed(bytes(out))]
        assert answers[0].encode() == b"i@\x00\x01"
        # a request (or an unknown type) gets exactly one answer; anything else is counted
        answered = [p for p in batch if len(p) >= 4 and (chr(p[0]) in "IODHKPGESR" or chr(p[0]) not in NAMES)]
        assert len(answers) - 1 == len(answered)
        for payload, answer in zip(answered, answers[1:], strict=True):
            want = "?" if chr(payload[0]) not in NAMES else chr(payload[0]).lower()
            assert answer.type == want and answer.seq == payload[2] << 8 | payload[3]
        stats = session.stats
        assert stats.rx_packets == len(batch) + 1
        for rec in box.records():
            assert rec.path == "a/value" and rec.dtype == "N"  # only valid pushes were stored
        box.close()
