"""The firmware on boards of its own: a full ring, a bad config.json, Ctrl-C on the shared REPL
serial, mpremote against the running firmware, and safe mode."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edgehook.orp import Packet
from tests.board.conftest import mpremote
from tests.firmware.edge import HEAP, Edge, PtyBoard, compiled_board
from tests.firmware.test_asset import FAST
from tests.fixtures.vboard import BoardFactory


@pytest.fixture
def flash(tmp_path: Path) -> Path:
    return compiled_board(tmp_path / "flash")


def test_a_full_ring_drops_the_oldest_and_reports_the_count(
        vboard_factory: BoardFactory, flash: Path) -> None:
    board = vboard_factory(dir=flash, heap=HEAP, config=dict(FAST, ring=8))
    edge = Edge(board.port)
    try:
        edge.wait(lambda p: p.type == "P", 10, "a first push")
        edge.sync()
        start = edge.push_mark()
        edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 3, 5, "temperatures")
        mark = edge.mark()
        edge.answer = lambda p: None if p.type == "P" else "@"
        try:
            first = edge.wait(lambda p: p.type == "P", 5, "a push", mark)
            edge.wait_until(lambda: sum(1 for p in edge.packets[mark:] if p.type == "P"
                                        and p.seq == first.seq) >= 3, 10, "retransmits")
            resumed = time.time()
        finally:
            edge.answer = None
        edge.wait_until(lambda: any(float(p.data or b"0") > 0
                                    for p in edge.values("health/dropped", start)), 10, "the count")
        edge.wait_until(lambda: any((p.timestamp or 0) > resumed
                                    for p in edge.values("env/temp/value", start)), 10, "the flush")
        stamps = [p.timestamp or 0.0 for p in edge.values("env/temp/value", start)]
        assert stamps == sorted(stamps)
        # the oldest readings of the silence were dropped: a hole in the 0.05 s series
        assert max(b - a for a, b in zip(stamps, stamps[1:], strict=False)) > 0.5
        edge.wait_until(lambda: any(json.loads(p.data or b"")["timeouts"] >= 3
                                    for p in edge.values("health/link", start)), 5, "timeouts")
    finally:
        edge.close()


def test_a_bad_config_falls_back_per_key_and_the_board_runs(
        vboard_factory: BoardFactory, flash: Path) -> None:
    config = {"ring": "big", "timeout": -1, "nonsense": 1, "health": 0.5,
              "sensors": {"env/temp": {"period": "fast", "offset": 50.0}, "io/door": None,
                          "env/level": {"kind": "sensor", "period": 3600}}}
    board = vboard_factory(dir=flash, heap=HEAP, config=config)
    edge = Edge(board.port)
    try:
        edge.wait(lambda p: p.type == "P" and p.path == "env/temp/value", 10, "a temperature")
        text = bytes(edge.raw).decode(errors="replace")
        assert "config: 'ring' wrong type str; using 128" in text
        assert "config: 'timeout' out of range 0.02..60; using 1.0" in text
        assert "config: unknown key 'nonsense' ignored" in text
        assert "config: env/temp: 'period' wrong type str; using 5.0" in text
        edge.sync()
        edge.wait_until(lambda: "health/link" in edge.resources, 10, "resources")
        assert "io/door/value" not in edge.resources
        temp = edge.wait(lambda p: p.type == "P" and p.path == "env/temp/value", 10, "a temperature")
        assert 50 - 4.2 <= float(temp.data or b"") <= 50 + 4.2
        # a polled sensor: created with S, and a `b` call takes a reading now
        assert edge.resources["env/level/value"].kind == "S"
        mark = edge.mark()
        edge.send(Packet("b", " ", 0x0310, path="env/level/value"))
        edge.wait(lambda p: p.type == "B" and p.seq == 0x0310 and p.flag == "@", 5, "B", mark)
        edge.wait(lambda p: p.type == "P" and p.path == "env/level/value", 5, "the reading", mark)
        edge.send(Packet("b", " ", 0x0311, path="env/temp/period"))
        edge.wait(lambda p: p.type == "B" and p.seq == 0x0311 and p.flag == "E", 5, "B", mark)
    finally:
        edge.close()


def test_a_ring_too_big_for_the_heap_falls_back_to_the_default(
        vboard_factory: BoardFactory, flash: Path) -> None:
    board = vboard_factory(dir=flash, heap=HEAP, config=dict(FAST, ring=100000))
    edge = Edge(board.port)
    try:
        edge.wait(lambda p: p.type == "P", 10, "a first push")  # the app runs
        board.restart()  # the boot's console lines again, now that the port is open
        edge.wait_until(lambda: b"config: 'ring' 100000 does not fit in the heap; using 128"
                        in edge.raw, 10, "the line")
        assert edge.sync().type == "y"
        assert b"MemoryError" not in edge.raw
    finally:
        edge.close()


def test_ctrl_c_outside_a_frame_gives_the_repl_back_and_inside_it_is_data(flash: Path) -> None:
    (flash / "config.json").write_text(json.dumps(FAST))
    pb = PtyBoard(flash)
    edge = Edge(pb)
    try:
        edge.wait(lambda p: p.type == "P", 10, "a first push")
        edge.seq = 0x0302
        assert edge.call("env/temp/enable", b"1", "B").seq == 0x0303  # 0x03 0x03 in the frame
        edge.ser.write(b"~P\x03\x03~")  # a broken frame with 0x03s: dropped, counted, no stop
        start = edge.push_mark()
        edge.wait_until(lambda: len(edge.values("env/temp/value", start)) >= 5, 5, "pushes go on")
        edge.ser.write(b"\r\x03")
        edge.wait_until(lambda: b"the REPL is yours" in edge.raw and edge.raw.endswith(b">>> "),
                        5, "the REPL")
        edge.ser.write(b"print(6 * 7)\r")
        edge.wait_until(lambda: b"42" in edge.raw.split(b"the REPL is yours")[-1], 5, "the REPL")
    finally:
        edge.close()
        pb.close()


def test_mpremote_takes_over_the_running_firmware(vboard_factory: BoardFactory, flash: Path,
                                                  tmp_path: Path) -> None:
    board = vboard_factory(dir=flash, heap=HEAP, config=FAST)
    edge = Edge(board.port)
    try:
        edge.wait(lambda p: p.type == "P", 10, "a first push")
    finally:
        edge.close()
    assert mpremote(board.port, "exec", "print(6 * 7)").strip() == "42"
    (tmp_path / "note.txt").write_text("hello")
    mpremote(board.port, "fs", "cp", str(tmp_path / "note.txt"), ":note.txt")
    assert (flash / "note.txt").read_text() == "hello"
    assert "note.txt" in mpremote(board.port, "fs", "ls")
    mpremote(board.port, "soft-reset")  # in the raw REPL: main.py stays off, as on an ESP32
    edge = Edge(board.port)
    try:  # leave the raw REPL, soft reset at the friendly REPL: boot.py, main.py, the firmware
        edge.ser.write(b"\x02")
        edge.wait_until(lambda: edge.raw.endswith(b">>> "), 5, "the friendly REPL")
        edge.ser.write(b"\x04")
        edge.wait(lambda p: p.type == "I", 10, "the firmware back")
    finally:
        edge.close()


def test_safe_mode_after_early_deaths_leaves_the_repl_free(
        vboard_factory: BoardFactory, flash: Path) -> None:
    board = vboard_factory(dir=flash, heap=HEAP, config=dict(FAST, safe_attempts=2, safe_window=60))
    edge = Edge(board.port)
    try:
        for _ in range(2):  # two boots that die before safe_window
            mark = edge.mark()
            edge.wait(lambda p: p.type == "I", 10, "the app", mark)
            board.restart()
            board.wait_log("started", start=len(board.log))
        edge.wait_until(lambda: b"edgehook: safe mode" in edge.raw, 10, "safe mode")
        mark = edge.mark()
        time.sleep(0.5)  # no frames may come: the app is off (a negative check, bounded)
        assert edge.mark() == mark
        board.restart()  # the next boot runs the app again
        edge.wait(lambda p: p.type == "I", 10, "the app back", mark)
    finally:
        edge.close()
