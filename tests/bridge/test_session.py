"""The ORP edge side over a real pty, driven by a scripted asset: SYNC, requests, statuses, pushes."""

from __future__ import annotations

import pytest

from edgehook.bridge.service import Bridge, BridgeConfig
from edgehook.orp import Packet, Status
from tests.bridge.asset import ScriptedAsset, wait_for


@pytest.fixture
def asset():
    a = ScriptedAsset()
    yield a
    a.close()


def start_bridge(tmp_path, port, **kw) -> Bridge:
    cfg = BridgeConfig(port=port, device="dev1", outbox=tmp_path / "outbox.db",
                       sync_interval=kw.pop("sync_interval", 0.3), **kw)
    bridge = Bridge(cfg)
    bridge.start()
    return bridge


@pytest.fixture
def bridge(tmp_path, asset):
    b = start_bridge(tmp_path, asset.port)
    asset.answer_sync()
    yield b
    b.stop()


def st(pkt: Packet) -> str:
    return pkt.flag


def test_sync_repeats_until_answered_then_stops(tmp_path, asset):
    b = start_bridge(tmp_path, asset.port, sync_interval=0.2)
    try:
        first = asset.expect(lambda p: p.type == "Y")
        second = asset.expect(lambda p: p.type == "Y")
        assert first.flag == "1" and first.timestamp is not None and second.seq != first.seq
        assert second.mtu == 1024 and second.received == 0
        asset.send(Packet("y", "@", second.seq))
        assert wait_for(lambda: b.session.synced)
        asset.inbox.clear()
        # no more SYNCs once answered: a request still gets its answer and nothing else comes
        resp = asset.request(Packet("I", "N", path="a/value"))
        asset.pump(0.5)
        assert st(resp) == "@" and [p for p in asset.inbox if p.type == "Y"] == []
        assert b.session.peer_version == 2
    finally:
        b.stop()


def test_v1_peer_gets_v1_answers_and_no_more_syncs(tmp_path, asset):
    b = start_bridge(tmp_path, asset.port, sync_interval=0.2)
    try:
        asset.expect(lambda p: p.type == "Y")
        asset.write(Packet("I", "N", None, path="val/value", units="num").frame())
        resp = asset.expect(lambda p: p.type == "i")
        assert resp.encode() == b"i@01"  # the captured v1 answer, byte for byte
        assert wait_for(lambda: b.session.peer_version == 1 and b.session.synced)
        asset.write(Packet("P", "N", None, path="val/value", data=b"23.7").frame())
        assert asset.expect(lambda p: p.type == "p").encode() == b"p@01"
    finally:
        b.stop()


def test_create_rules_and_limits(bridge, asset):
    ok = asset.request(Packet("I", "N", path="env/temp/value", units="degC"))
    assert st(ok) == "@"
    assert st(asset.request(Packet("I", "N", path="env/temp/value", units="degC"))) == "@"  # same again
    assert st(asset.request(Packet("I", "S", path="env/temp/value"))) == "N"  # other type: DUPLICATE
    assert st(asset.request(Packet("O", "N", path="env/temp/value", units="degC"))) == "N"
    assert st(asset.request(Packet("I", "N", path="p" * 80))) == "C"  # path > 79: OUT_OF_RANGE
    assert st(asset.request(Packet("I", "N", path="p" * 79))) == "@"
    assert st(asset.request(Packet("S", "N", path="u/value", units="x" * 24))) == "C"
    assert st(asset.request(Packet("I", "N", path="/abs/value"))) == "O"  # BAD_PARAMETER
    assert st(asset.request(Packet("I", "N", path="a/../b"))) == "O"
    for i in range(30):  # 2 exist already: 32 in all
        assert st(asset.request(Packet("O", "B", path=f"out{i}/value"))) == "@"
    assert st(asset.request(Packet("I", "N", path="one/too/many"))) == "D"  # NO_MEMORY
    assert len(bridge.table) == 32


def test_push_get_and_their_statuses(bridge, asset):
    asset.request(Packet("I", "N", path="env/temp/value", units="degC"))
    asset.request(Packet("O", "N", path="env/temp/period"))
    push = Packet("P", "N", path="env/temp/value", timestamp=1_700_000_000.5, data=b"23.7")
    assert st(asset.request(push)) == "@"
    assert st(asset.request(Packet("P", "N", path="env/temp/value", timestamp=1_700_000_000.5,
                                    data=b"23.7"))) == "@"  # a retransmit: acked, stored once
    assert st(asset.request(Packet("P", "N", path="nope/value", data=b"1"))) == "A"
    assert st(asset.request(Packet("P", "S", path="env/temp/value", data=b"hot"))) == "O"
    assert st(asset.request(Packet("P", "N", path="env/temp/period", data=b"5"))) == "E"
    assert st(asset.request(Packet("P", "N", path="env/temp/value", data=b"12,5"))) == "M"
    assert st(asset.request(Packet("P", "N", path="env/temp/value", data=b"nan"))) == "M"
    asset.request(Packet("I", "J", path="env/cfg/value"))
    for data in (b'{"a": NaN}', b"[Infinity]", b"1e999"):  # Python's json reads them; no upload can
        assert st(asset.request(Packet("P", "J", path="env/cfg/value", data=data))) == "M", data
    recs = bridge.outbox.records()
    assert [(r.key, r.value, r.units) for r in recs] == [
        ("dev1:env/temp/value:1700000000.500000", 23.7, "degC")]
    assert bridge.outbox.counters()["duplicates"] == 1
    got = asset.request(Packet("G", " ", path="env/temp/value"))
    assert (got.flag, got.timestamp, got.data) == ("@", 1_700_000_000.5, b"23.7")
    assert st(asset.request(Packet("G", " ", path="nope"))) == "A"
    assert st(asset.request(Packet("G", " ", path="env/temp/period"))) == "U"  # no value yet
    assert bridge.session.stats.pushes_acked == 2


def test_delete_handlers_example_and_sensors(bridge, asset):
    asset.request(Packet("I", "J", path="cfg/value"))
    asset.request(Packet("S", "N", path="adc/value"))
    asset.request(Packet("O", "B", path="led/value"))
    assert st(asset.request(Packet("E", "J", path="cfg/value", data=b'{"a":1}'))) == "@"
    assert st(asset.request(Packet("E", "J", path="cfg/value", data=b"{broken"))) == "M"
    assert st(asset.request(Packet("E", "J", path="adc/value", data=b"{}"))) == "O"
    assert st(asset.request(Packet("H", " ", path="adc/value"))) == "O"  # handlers are for outputs
    assert st(asset.request(Packet("H", " ", path="gone"))) == "A"
    assert st(asset.request(Packet("H", " ", path="led/value"))) == "@"
    assert st(asset.request(Packet("K", " ", path="led/value"))) == "@"
    assert st(asset.request(Packet("R", " ", path="cfg/value"))) == "O"  # not a sensor
    assert st(asset.request(Packet("R", " ", path="adc/value"))) == "@"
    assert st(asset.request(Packet("D", " ", path="adc/value"))) == "A"
    assert st(asset.request(Packet("D", " ", path="cfg/value"))) == "@"
    assert [r.path for r in bridge.table.snapshot()] == ["led/value"]


def test_bad_packets_get_answers_and_junk_is_counted(bridge, asset):
    asset.write(b"\x7eZ@\x00\x09Pfoo\x00\x00\x7e")  # bad CRC: dropped, counted
    asset.write(b"noise without flags \x01\x02")
    asset.send(Packet("I", "N", 7))  # no path: FORMAT_ERROR on the request's own type
    assert asset.expect(lambda p: p.type == "i" and p.seq == 7).flag == "M"
    from edgehook.orp import encode_frame
    asset.write(encode_frame(b"Z.\x00\x08Pfoo"))  # unknown type: '?' UNSUPPORTED
    assert asset.expect(lambda p: p.type == "?").flag == "R"
    assert wait_for(lambda: bridge.deframer.stats.crc_errors >= 1)
    assert bridge.session.stats.bad_packets == 2
    assert st(asset.request(Packet("I", "N", path="still/value"))) == "@"  # still serving


def test_handler_call_waits_for_the_assets_answer(bridge, asset):
    asset.request(Packet("O", "N", path="env/period"))
    assert bridge.session.call_handler("env/period", 5) is Status.NOT_POSSIBLE  # no handler yet
    asset.request(Packet("H", " ", path="env/period"))
    import threading
    result: list[Status] = []
    t = threading.Thread(target=lambda: result.append(bridge.session.call_handler("env/period", 5)))
    t.start()
    call = asset.expect(lambda p: p.type == "c")
    assert (call.flag, call.path, call.data) == ("N", "env/period", b"5")
    asset.send(Packet("C", "@", call.seq))
    t.join(5)
    assert result == [Status.OK]
    assert bridge.session.call_handler("env/period", 7, timeout=0.3) is Status.TIMEOUT  # no answer
    assert bridge.session.call_handler("nope", 1) is Status.NOT_FOUND
    assert bridge.session.call_handler("env/period", "abc") is Status.FORMAT_ERROR


def test_full_outbox_refuses_pushes_so_the_asset_keeps_them(tmp_path, asset):
    b = start_bridge(tmp_path, asset.port, max_records=2)
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="x/value"))
        flags = [st(asset.request(Packet("P", "N", path="x/value", timestamp=100.0 + i, data=b"1")))
                 for i in range(3)]
        assert flags == ["@", "@", "D"]  # NO_MEMORY
        assert b.outbox.counters()["rejected_full"] == 1
    finally:
        b.stop()


def test_a_burst_of_pushes_is_group_committed_and_all_acked(bridge, asset):
    asset.request(Packet("I", "N", path="x/value"))
    seqs = []
    burst = b""
    for i in range(300):
        seq = asset.next_seq()
        seqs.append(seq)
        burst += Packet("P", "N", seq, path="x/value", timestamp=1000.0 + i, data=str(i).encode()).frame()
    asset.write(burst)
    acks = [asset.expect(lambda p, s=s: p.type == "p" and p.seq == s) for s in seqs]
    assert all(a.flag == "@" for a in acks)
    assert bridge.outbox.status()["open"] == 300


def test_a_failing_outbox_answers_io_error_and_acks_nothing(bridge, asset):
    asset.request(Packet("I", "N", path="x/value"))
    bridge.outbox._db.close()  # the database goes away under the bridge (a disk gone bad)
    resp = asset.request(Packet("P", "N", path="x/value", timestamp=5.0, data=b"1"))
    assert resp.flag == "S"  # IO_ERROR: the asset keeps the reading
    assert bridge.session.stats.pushes_acked == 0 and bridge.session.stats.pushes_refused == 1
    assert any("outbox commit failed" in e for e in bridge.session.errors)
    assert st(asset.request(Packet("G", " ", path="x/value"))) == "U"  # no value was taken
