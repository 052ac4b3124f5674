"""`edgehook board deploy` against the virtual board: real mpremote, mpy-cross, MicroPython."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from edgehook.board import deploy as deploy_mod
from edgehook.board.deploy import MANIFEST, deploy
from edgehook.board.vboard import REPO_FIRMWARE
from edgehook.errors import DeviceError
from edgehook.orp import Deframer, Packet, parse
from tests.board.conftest import mpremote


def make_app(root: Path) -> Path:
    (root / "lib").mkdir(parents=True, exist_ok=True)
    (root / "boot.py").write_text("print('boot')\n")
    (root / "main.py").write_text("import util\nprint('app says', util.f())\n")
    (root / "lib" / "util.py").write_text("def f():\n    return 41 + 1\n")
    (root / "lib" / "data.json").write_text('{"a": 1}\n')
    return root


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_app(tmp_path / "app")


@pytest.fixture
def board(vboard_factory, tmp_path: Path):
    flash = tmp_path / "flash"
    flash.mkdir()
    return vboard_factory(flash)


def test_first_deploy_copies_everything_and_the_second_nothing(board, app: Path) -> None:
    first = deploy(board.port, app).summary()
    assert first == {"copied": ["/boot.py", "/lib/data.json", "/lib/util.mpy", "/main.py"],
                     "skipped": [], "removed": []}
    second = deploy(board.port, app).summary()
    assert second["copied"] == [] and second["removed"] == []
    assert second["skipped"] == first["copied"]
    flash = board.board_dir
    assert json.loads((flash / MANIFEST.lstrip("/")).read_text())["files"] == first["copied"]
    assert not (flash / "lib" / "util.py").exists()
    assert (flash / "lib" / "util.mpy").read_bytes()[:2] == b"M\x06"


def test_a_changed_file_alone_is_copied_and_a_deleted_one_removed(board, app: Path) -> None:
    deploy(board.port, app)
    (app / "lib" / "data.json").write_text('{"a": 2}\n')
    (app / "lib" / "util.py").unlink()
    (app / "main.py").write_text("print('no util now')\n")
    plan = deploy(board.port, app).summary()
    assert plan["copied"] == ["/lib/data.json", "/main.py"]
    assert plan["removed"] == ["/lib/util.mpy"]
    assert (board.board_dir / "lib" / "data.json").read_text() == '{"a": 2}\n'
    assert not (board.board_dir / "lib" / "util.mpy").exists()


def test_mpy_modules_import_and_run_on_the_board(board, app: Path) -> None:
    deploy(board.port, app, reset=False)
    out = mpremote(board.port, "exec", "import util; print(util.f(), util.__file__)")
    assert out.split() == ["42", "/lib/util.mpy"]


def test_files_the_board_made_stay_and_shadowing_sources_go(board, app: Path) -> None:
    flash = board.board_dir
    (flash / "settings.json").write_text("{}")
    (flash / "lib").mkdir()
    (flash / "lib" / "util.py").write_text("def f():\n    return 0\n")  # would shadow util.mpy
    plan = deploy(board.port, app).summary()
    assert "/lib/util.py" in plan["removed"]
    assert (flash / "settings.json").read_text() == "{}"
    assert not (flash / "lib" / "util.py").exists()


def test_no_mpy_copies_sources_and_removes_the_earlier_mpy(board, app: Path) -> None:
    deploy(board.port, app)
    plan = deploy(board.port, app, mpy=False).summary()
    assert plan["copied"] == ["/lib/util.py"] and plan["removed"] == ["/lib/util.mpy"]
    assert mpremote(board.port, "exec", "import util; print(util.__file__)").strip() == \
        "/lib/util.py"


def test_a_board_with_another_mpy_version_gets_sources_and_a_warning(board, app: Path,
                                                                   monkeypatch) -> None:
    monkeypatch.setattr(deploy_mod, "compiler_mpy_major", lambda: 5)
    plan = deploy(board.port, app, dry_run=True)
    assert plan.warning and "copying .py source" in plan.warning
    assert "/lib/util.py" in plan.copy and not plan.mpy


def test_an_unreadable_manifest_is_a_warning_not_silence(board, app: Path) -> None:
    (board.board_dir / MANIFEST.lstrip("/")).write_text("{not json")
    plan = deploy(board.port, app, dry_run=True)
    assert plan.warning and "manifest" in plan.warning and not plan.remove
    (board.board_dir / MANIFEST.lstrip("/")).write_text('{"files": ["/gone.py"]}')
    plan = deploy(board.port, app, dry_run=True)
    assert plan.warning is None and plan.remove == ["/gone.py"]


def test_force_copies_unchanged_files(board, app: Path) -> None:
    deploy(board.port, app)
    assert len(deploy(board.port, app, force=True).copy) == 4


def test_cli_dry_run_and_json(board, app: Path) -> None:
    cmd = [sys.executable, "-m", "edgehook", "board", "deploy", "--port", board.port,
           "--dir", str(app)]
    dry = subprocess.run(cmd + ["--dry-run", "--json"], capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["copied"] == ["/boot.py", "/lib/data.json", "/lib/util.mpy",
                                                "/main.py"]
    assert not (board.board_dir / "main.py").exists()  # a dry run changes nothing
    real = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert real.returncode == 0, real.stderr
    assert "4 copied, 0 unchanged, 0 removed" in real.stdout


def test_no_board_on_the_port_is_a_device_error(tmp_path: Path) -> None:
    master, slave = pty.openpty()  # a port where nothing answers
    try:
        with pytest.raises(DeviceError, match="no MicroPython raw REPL"):
            deploy(os.ttyname(slave), make_app(tmp_path / "app"), timeout=0.5)
    finally:
        os.close(master)
        os.close(slave)


def sync_answer(port: str, timeout: float = 15.0) -> Packet:
    """SYNC the board every 0.3 s until its `y` arrives (the app may still be booting)."""
    deframer = Deframer()
    deadline = time.monotonic() + timeout
    with serial.Serial(port, timeout=0.05) as ser:
        next_sync = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_sync:
                ser.write(Packet("Y", "1", 1, timestamp=time.time(), sent=0, received=0).frame())
                next_sync = time.monotonic() + 0.3
            for payload in deframer.feed(ser.read(4096)):
                pkt = parse(payload)
                if pkt.type == "y":
                    return pkt
    raise AssertionError(f"no SYNC answer within {timeout} s")


# A small ORP asset on the firmware's own codec (firmware/lib/orp.py): answers SYNC with `y`.
ORP_APP_MAIN = """\
import sys, select, orp
enc = orp.Encoder()
deframer = orp.Deframer()
poll = select.poll()
poll.register(sys.stdin, select.POLLIN)
while True:
    if not poll.poll(1000):
        continue
    payload = deframer.feed(sys.stdin.buffer.read(1)[0])
    if payload is not None:
        ptype, flag, seq, fields = orp.parse(payload)
        if ptype in ('Y', 0x59):
            sys.stdout.buffer.write(enc.frame('y', '1', seq, extra=(('S', 0), ('R', 1))))
"""


def test_the_app_starts_after_deploy_and_answers_sync(board, tmp_path: Path) -> None:
    app = tmp_path / "orp-app"
    (app / "lib").mkdir(parents=True)
    (app / "main.py").write_text(ORP_APP_MAIN)
    (app / "lib" / "orp.py").write_bytes((REPO_FIRMWARE / "lib" / "orp.py").read_bytes())
    plan = deploy(board.port, app)
    assert plan.mpy and sorted(plan.copy) == ["/lib/orp.mpy", "/main.py"]
    assert sync_answer(board.port).type == "y"


def test_the_firmware_deploys_as_mpy_and_answers_sync_after_the_reset(board) -> None:
    plan = deploy(board.port, REPO_FIRMWARE)
    assert plan.mpy and "/main.py" in plan.copy and "/lib/orp.mpy" in plan.copy
    for path in plan.copy:
        assert (board.board_dir / path.lstrip("/")).read_bytes() == plan.copy[path]
    assert sync_answer(board.port).type == "y"


def test_tool_files_next_to_the_app_are_not_deployed(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    for name in ("mypy.ini", "README.md", ".gitignore", "lib/stub.pyi"):
        (app / name).write_text("x")
    (app / "lib" / "__pycache__").mkdir()
    (app / "lib" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    assert [p for p, _ in deploy_mod.app_files(app)] == [
        "/boot.py", "/lib/data.json", "/lib/util.py", "/main.py"]


def test_cli_error_is_the_first_line_of_stderr_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "edgehook", "board", "deploy", "--port",
                           str(tmp_path / "no-such-port"), "--dir", str(make_app(tmp_path / "a"))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("edgehook: cannot open "), proc.stderr
