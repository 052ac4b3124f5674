"""Link resilience on real ptys behind a symlink: absent at start, unplug / replug, silent link."""

from __future__ import annotations

from edgehook.bridge.service import Bridge, BridgeConfig
from edgehook.orp import Packet
from tests.bridge.asset import ScriptedAsset, wait_for


def make_bridge(tmp_path, port: str, **kw) -> tuple[Bridge, list[str]]:
    events: list[str] = []
    cfg = BridgeConfig(port=port, device="dev1", outbox=tmp_path / "outbox.db",
                       sync_interval=kw.pop("sync_interval", 0.3), **kw)
    bridge = Bridge(cfg, on_event=events.append)
    bridge.link.retry_interval = 0.05
    bridge.start()
    return bridge, events


def test_absent_port_waits_with_one_message_then_connects(tmp_path):
    link = tmp_path / "ttyEDGE"
    bridge, events = make_bridge(tmp_path, str(link))
    asset = None
    try:
        assert wait_for(lambda: bridge.link.state == "waiting")
        assert wait_for(lambda: any("waiting for" in e for e in events))
        assert wait_for(lambda: bridge.link.attempts >= 5)  # several retries; still one message
        waiting = [e for e in events if "waiting for" in e]
        assert len(waiting) == 1 and str(link) in waiting[0] and "does not exist" in waiting[0]
        asset = ScriptedAsset(link=link)
        asset.answer_sync()
        assert wait_for(lambda: bridge.session.synced)
        assert bridge.link.state == "open"
    finally:
        bridge.stop()
        if asset:
            asset.close()


def test_a_port_setting_pyserial_refuses_is_reported_and_the_bridge_stays_alive(tmp_path):
    asset = ScriptedAsset(link=tmp_path / "ttyEDGE")
    bridge, events = make_bridge(tmp_path, str(tmp_path / "ttyEDGE"), baud=-5)
    try:
        assert wait_for(lambda: any("Not a valid baudrate" in e for e in events))
        assert wait_for(lambda: bridge.link.attempts >= 3)  # still trying, not a dead thread
        assert bridge.link.state == "waiting" and all(t.is_alive() for t in bridge._threads)
    finally:
        bridge.stop()
        asset.close()


def test_unplug_and_replug_reconnects_and_keeps_every_reading(tmp_path):
    link = tmp_path / "ttyEDGE"
    asset = ScriptedAsset(link=link)
    bridge, events = make_bridge(tmp_path, str(link))
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="x/value"))
        assert asset.request(Packet("P", "N", path="x/value", timestamp=1.0, data=b"1")).flag == "@"
        asset.unplug()
        assert wait_for(lambda: any("link lost" in e for e in events))
        assert wait_for(lambda: bridge.link.state == "waiting")
        asset.plug()  # a new pty behind the same name, as a replugged USB adapter
        asset.answer_sync()  # a fresh port starts with SYNC
        assert wait_for(lambda: bridge.link.opens == 2)
        asset.request(Packet("I", "N", path="x/value"))
        assert asset.request(Packet("P", "N", path="x/value", timestamp=2.0, data=b"2")).flag == "@"
        assert [r.value for r in bridge.outbox.records()] == [1.0, 2.0]
    finally:
        bridge.stop()
        asset.close()


def test_silent_link_syncs_again_then_reopens(tmp_path):
    asset = ScriptedAsset()
    bridge, events = make_bridge(tmp_path, asset.port, silence=0.4)
    try:
        asset.answer_sync()
        asset.request(Packet("I", "N", path="x/value"))
        # the asset goes quiet: first a SYNC, then (still quiet) the port is reopened
        asset.expect(lambda p: p.type == "Y", timeout=3)
        assert wait_for(lambda: any("no frame" in e for e in events))
        assert wait_for(lambda: bridge.reopens == 1 and bridge.link.opens == 2, timeout=5)
        asset.answer_sync()  # a SYNC after the reopen; answering it keeps the link up
        assert wait_for(lambda: bridge.session.synced)
        assert asset.request(Packet("G", " ", path="x/value")).flag == "U"  # table kept
    finally:
        bridge.stop()
        asset.close()


def test_a_second_bridge_on_the_same_outbox_is_refused(tmp_path):
    import pytest

    from edgehook.errors import UsageError

    first = Bridge(BridgeConfig(port=str(tmp_path / "none"), device="d", outbox=tmp_path / "o.db"))
    try:
        with pytest.raises(UsageError, match="another bridge is using the outbox"):
            Bridge(BridgeConfig(port=str(tmp_path / "none"), device="d", outbox=tmp_path / "o.db"))
    finally:
        first.stop()
    Bridge(BridgeConfig(port=str(tmp_path / "none"), device="d", outbox=tmp_path / "o.db")).stop()


def test_a_board_that_stays_silent_is_reported_once_per_silence(tmp_path):
    asset = ScriptedAsset()
    bridge, events = make_bridge(tmp_path, asset.port, silence=0.2)
    try:
        assert wait_for(lambda: bridge.reopens >= 3, timeout=10)
        assert sum("reopening" in e for e in events) == 1  # not once per reopen
        asset.answer_sync()
        assert wait_for(lambda: any("frames again" in e for e in events))
    finally:
        bridge.stop()
        asset.close()


def test_a_board_behind_a_network_serial_server(tmp_path):
    import socket

    from edgehook.orp import Deframer, parse

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    bridge, _events = make_bridge(tmp_path, f"socket://127.0.0.1:{server.getsockname()[1]}")
    try:
        server.settimeout(5)
        conn, _ = server.accept()
        conn.settimeout(5)
        dec = Deframer()
        got: list[Packet] = []

        def receive(ptype: str) -> Packet:
            while True:
                for i, pkt in enumerate(got):
                    if pkt.type == ptype:
                        return got.pop(i)
                got.extend(parse(p) for p in dec.feed(conn.recv(4096)))

        sync = receive("Y")
        conn.sendall(Packet("y", "@", sync.seq).frame() + Packet("I", "N", 5, path="n/value").frame())
        assert receive("i").flag == "@"
        frames = b"".join(Packet("P", "N", 10 + i, path="n/value", timestamp=1.0 + i, data=b"7").frame()
                          for i in range(100))
        conn.sendall(frames)
        acks = [receive("p") for _ in range(100)]
        assert [a.seq for a in acks] == list(range(10, 110)) and {a.flag for a in acks} == {"@"}
        conn.close()
    finally:
        bridge.stop()
        server.close()
