"""The firmware as an ORP v2 asset on the virtual board, driven by a scripted edge speaking the
host codec: resources, pushes, handler calls, link silence, status handling, memory."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.firmware.edge import HEAP, Edge, compiled_board
from tests.fixtures.vboard import BoardFactory

FAST = {
    "health": 0.5, "timeout": 0.2, "backoff": 0.8, "safe_window": 1,
    "sensors": {
        "env/temp": {"period": 0.05},
        "env/level": {"period": 0.05, "hold": 4, "heartbeat": 1.0},
        "io/door": {"period": 0.05, "hold": 3, "heartbeat": 1.0},
    },
}
SENSORS = {"env/temp": ("N", "degC"), "env/level": ("N", "%"), "io/door": ("B", None)}
HEALTH = {"health/uptime": "s", "health/heap_free": "B", "health/heap_min": "B",
          "health/alloc": "B", "health/dropped": None}


@pytest.fixture(scope="module")
def board(vboard_module_factory: BoardFactory, tmp_path_factory: pytest.TempPathFactory):
    return vboard_module_factory(dir=compiled_board(tmp_path_factory.mktemp("asset")),
                                 heap=HEAP, seed=7, config=FAST)


@pytest.fixture(scope="module")
def edge(board) -> Iterator[Edge]:
    e = Edge(board.port)
    e.wait(lambda p: p.type == "P", 10, "a first push")
    e.sync()
    yield e
    e.close()


def ready(edge: Edge) -> None:
    """Wait until every resource exists again (after a SYNC or a restart)."""
    edge.wait_until(lambda: len(edge.resources) == 3 * 4 + 7, 10, "all resources")


def test_sync_answered_and_every_resource_created(edge: Edge) -> None:
    y = edge.sync()
    assert y.flag == "1" and y.mtu == 256 and y.sent is not None and y.received is not None
    edge.resources.clear()
    edge.sync()
    ready(edge)
    res = edge.resources
    for name, (dtype, units) in SENSORS.items():
        assert (res[f"{name}/value"].kind, res[f"{name}/value"].dtype) == ("I", dtype)
        assert res[f"{name}/value"].units == units
        assert (res[f"{name}/period"].kind, res[f"{name}/period"].dtype) == ("O", "N")
        assert res[f"{name}/period"].units == "s"
        assert (res[f"{name}/enable"].kind, res[f"{name}/enable"].dtype) == ("O", "B")
        assert (res[f"{name}/filter"].kind, res[f"{name}/filter"].dtype) == ("O", "J")
        for key in ("period", "enable", "filter"):
            assert res[f"{name}/{key}"].handler, f"no handler on {name}/{key}"
    for path, units in HEALTH.items():
        assert (res[path].kind, res[path].dtype, res[path].units) == ("I", "N", units)
    assert (res["health/reset_cause"].dtype, res["health/link"].dtype) == ("S", "J")


def test_pushes_carry_timestamps_and_values_in_range(edge: Edge) -> None:
    start = edge.push_mark()
    edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 10
                    and edge.values("io/door/value", start)
                    and len(edge.values("health/link", start)) >= 2, 10, "pushes")
    now = time.time()
    temps = edge.values("env/temp/value", start)
    stamps = [p.timestamp for p in temps]
    assert all(s is not None and now - 30 < s <= now + 1 for s in stamps)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(p.flag == "N" and 21 - 4.2 <= float(p.data or b"") <= 21 + 4.2 for p in temps)
    assert {p.data for p in edge.values("io/door/value", start)} <= {b"0", b"1"}
    assert {float(p.data or b"") for p in edge.values("env/level/value", start)} <= {0.0, 100.0}
    link = json.loads(edge.values("health/link", start)[-1].data or b"")
    assert link["up"] == 1 and link["crc"] == 0 and link["sensor_errors"] == 0


def test_health_reports_heap_and_allocation_per_reading(edge: Edge) -> None:
    start = edge.push_mark()
    edge.wait_until(lambda: len(edge.values("health/alloc", start)) >= 3, 10, "health readings")
    free = [float(p.data or b"") for p in edge.values("health/heap_free", start)]
    alloc = [float(p.data or b"") for p in edge.values("health/alloc", start)]
    assert all(f > 2048 for f in free), free
    # steady state: the readings' own values and float temporaries only (docs/firmware.md)
    assert 0 < min(alloc) <= 1024, alloc
    causes = edge.values("health/reset_cause")
    assert causes and causes[-1].data == b"power_on"


def test_handler_calls_answer_a_status_for_every_kind_of_bad_input(edge: Edge) -> None:
    cases = [
        ("env/temp/nothing", b"1", "N", "A"),
        ("env/temp/value", b"1", "N", "E"),  # an input is not settable
        ("env/temp/period", b"soon", "N", "O"),
        ("env/temp/period", b"0", "N", "C"),
        ("env/temp/period", b"nan", "N", "C"),
        ("env/temp/enable", b"maybe", "B", "O"),
        ("env/temp/filter", b'{"colour": 1}', "J", "O"),
        ("env/temp/filter", b'{"delta": -1}', "J", "C"),
        ("env/temp/filter", b"[1]", "J", "O"),
        ("env/temp/filter", b'{"filter": 1}', "J", "O"),
        ("env/temp/filter", b'{"delta": 1, "enable": false}', "J", "O"),
        ("env/temp/filter", b"{bad json", "J", "O"),
        ("env/temp/period", None, "N", "O"),
    ]
    for path, data, dtype, status in cases:
        assert edge.call(path, data, dtype).flag == status, (path, data)
    start = edge.push_mark()
    edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 3, 5, "pushes go on")


def test_a_0x03_inside_a_frame_is_data(edge: Edge) -> None:
    edge.seq = 0x0302  # the next call's sequence number is 0x03 0x03
    reply = edge.call("env/temp/filter", b'{"delta": null}', "J")
    assert (reply.seq, reply.flag) == (0x0303, "@")
    start = edge.push_mark()
    edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 3, 5, "pushes go on")


def test_not_found_on_push_means_recreate_then_push_again(edge: Edge) -> None:
    lost: list = []

    def answer(pkt):
        if pkt.type == "P" and pkt.path == "env/temp/value" and not lost:
            lost.append(pkt)
            return "A"
        return "@"

    mark = edge.mark()
    edge.answer = answer
    try:
        again = edge.wait(lambda p: p.type == "P" and p.path == "env/temp/value" and lost
                          and p is not lost[0] and p.timestamp == lost[0].timestamp,
                          5, "the same push again", mark)
    finally:
        edge.answer = None
    between = edge.packets[edge.packets.index(lost[0]):edge.packets.index(again)]
    assert any(p.type == "I" and p.path == "env/temp/value" for p in between)


def test_busy_means_the_same_reading_later_and_a_refusal_drops_it(edge: Edge) -> None:
    seen: list = []

    def answer(pkt):
        if pkt.type == "P" and pkt.path == "env/temp/value":
            seen.append(pkt)
            return {1: "Q", 3: "M"}.get(len(seen), "@")  # BUSY, then a FORMAT_ERROR
        return "@"

    start = edge.push_mark()
    edge.answer = answer
    try:
        edge.wait_until(lambda: len(seen) >= 5, 5, "temperatures")
    finally:
        edge.answer = None
    assert seen[1].timestamp == seen[0].timestamp and seen[1].seq != seen[0].seq
    assert (seen[3].timestamp or 0) > (seen[2].timestamp or 0)  # the refused one is not resent
    edge.wait_until(lambda: any(json.loads(p.data or b"")["rejected"] >= 1
                                for p in edge.values("health/link", start)), 5, "the count")


def test_duplicate_create_is_fine(edge: Edge) -> None:
    edge.answer = lambda p: "N" if p.type in "IOS" else "@"
    try:
        y = edge.sync()
        mark = edge.packets.index(y) + 1
        edge.wait(lambda p: p.type == "P" and p.path == "env/temp/value", 5, "a push", mark)
    finally:
        edge.answer = None
    creates = [p.path for p in edge.packets[mark:] if p.type in "IOS"]
    assert len(creates) == len(set(creates)) == 3 * 4 + 7


def test_silence_buffers_readings_and_flushes_them_in_order(edge: Edge) -> None:
    start = edge.push_mark()
    edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 3, 5, "temperatures")
    mark = edge.mark()
    edge.answer = lambda p: None if p.type == "P" else "@"
    try:
        first = edge.wait(lambda p: p.type == "P", 5, "a push", mark)
        # unanswered: the same request again, with its sequence number, backing off
        edge.wait_until(lambda: sum(1 for p in edge.packets[mark:] if p.type == "P"
                                    and p.seq == first.seq) >= 4, 10, "retransmits")
        silent_until = time.time()
        during = [p.seq for p in edge.packets[mark:] if p.type in "IOSHP"]
    finally:
        edge.answer = None
    assert set(during) == {first.seq}, "one outstanding request at a time"
    edge.wait_until(lambda: any(p.timestamp and p.timestamp > silent_until + 0.2
                                for p in edge.values("env/temp/value", start)), 10, "the flush")
    stamps = [p.timestamp or 0.0 for p in edge.values("env/temp/value", start)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    backlog = [s for s in stamps if s < silent_until]
    assert len(backlog) >= 20, "readings taken during the silence come with their own time"
    # nothing lost: one reading every 0.05 s across the silence (generous for scheduling)
    assert max(b - a for a, b in zip(stamps, stamps[1:], strict=False)) < 0.5


def test_a_handler_call_changes_a_period_at_once_and_it_survives_a_soft_reset(
        edge: Edge, board) -> None:
    assert edge.call("env/level/period", b"3600").flag == "@"
    saved = json.loads((Path(board.board_dir) / "settings.json").read_text())
    assert saved["env/level"]["period"] == 3600.0 and saved["env/temp"]["period"] == 0.05

    def quiet_level() -> None:
        start = edge.push_mark()
        edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 40, 10, "temps")
        # at most the one sample taken when the setting arrived (and no heartbeat within 1 s)
        assert len(edge.values("env/level/value", start)) <= 1

    time.sleep(0.1)  # let the sample taken on the change go by
    quiet_level()
    # a soft reset: Ctrl-C gives the REPL back, Ctrl-D restarts MicroPython, boot.py and main.py
    edge.ser.write(b"\r\x03")
    edge.wait_until(lambda: b"the REPL is yours" in edge.raw, 5, "the app to stop")
    edge.ser.write(b"\x04")
    edge.wait_until(lambda: b"soft reboot" in edge.raw, 5, "soft reboot")
    mark = edge.mark()
    edge.wait(lambda p: p.type == "I", 10, "the board back", mark)
    edge.sync()
    ready(edge)
    quiet_level()
    assert edge.call("env/level/period", b"0.05").flag == "@"
