"""Reading and checking the bundle manifest (cloud/manifest.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgehook.errors import UsageError

DEFAULT_BUNDLE = Path(__file__).resolve().parents[3] / "cloud"


@dataclass(frozen=True)
class StreamSpec:
    """A stream the bundle writes to; `path` may hold `{company}`."""

    path: str
    description: str = ""
    capacity: int | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """An action (with a source) or a task (with a period): one file of the bundle."""

    kind: str  # action | task
    name: str
    file: Path
    description: str = ""
    source: str = ""
    period: Any = None


@dataclass
class Manifest:
    """The bundle: its library files, streams, actions, tasks, endpoints and settings."""

    root: Path
    name: str
    library: list[Path]
    streams: list[StreamSpec]
    objects: list[ObjectSpec]
    endpoints: list[str]
    settings: dict[str, dict] = field(default_factory=dict)

    @property
    def actions(self) -> list[ObjectSpec]:
        return [o for o in self.objects if o.kind == "action"]

    @property
    def tasks(self) -> list[ObjectSpec]:
        return [o for o in self.objects if o.kind == "task"]


def _file(root: Path, name: Any, what: str) -> Path:
    if not isinstance(name, str) or not name:
        raise UsageError(f"manifest: {what} needs a `file`", hint="name a .js file under the bundle")
    path = (root / name).resolve()
    if not path.is_file():
        raise UsageError(f"manifest: {what}: no file {name} in {root}", hint="fix the manifest's file name")
    return path


def _list(data: dict, key: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise UsageError(f"manifest: `{key}` must be a list", hint="see cloud/manifest.json")
    return value


def _objects(root: Path, data: dict, kind: str) -> list[ObjectSpec]:
    out = []
    for i, item in enumerate(_list(data, kind + "s")):
        what = f"{kind} {i + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise UsageError(f"manifest: {what} needs a `name`", hint="every action and task is matched by name")
        if kind == "action" and not isinstance(item.get("source"), str):
            raise UsageError(f"manifest: action {item['name']} needs a `source`", hint="a stream path or tag source")
        if kind == "task" and item.get("period") is None:
            raise UsageError(f"manifest: task {item['name']} needs a `period`", hint="seconds between runs")
        out.append(
            ObjectSpec(kind, item["name"], _file(root, item.get("file"), what), str(item.get("description") or ""),
                       str(item.get("source") or ""), item.get("period"))
        )
    return out


def load_manifest(root: Path | str | None = None) -> Manifest:
    """The manifest of the bundle at `root` (default: the bundle shipped with edgehook)."""
    root = Path(root or DEFAULT_BUNDLE).resolve()
    path = root / "manifest.json" if root.is_dir() else root
    root = path.parent
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UsageError(f"no bundle manifest at {path}", hint="pass --bundle DIR (a folder with manifest.json)") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint="the manifest must be a JSON object") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the manifest must be a JSON object", hint="see cloud/README.md")
    library = [_file(root, name, "library") for name in _list(data, "library")]
    streams = []
    for item in _list(data, "streams"):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise UsageError("manifest: every stream needs a `path`", hint="e.g. /{company}/webhooks/deliveries")
        capacity = item.get("capacity")
        if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1):
            raise UsageError(f"manifest: stream {item['path']}: capacity must be a positive integer",
                             hint="events kept in the stream, e.g. 1000")
        streams.append(StreamSpec(item["path"], str(item.get("description") or ""), item.get("capacity")))
    objects = _objects(root, data, "action") + _objects(root, data, "task")
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise UsageError("manifest: action and task names must be unique", hint="they are matched by name on deploy")
    endpoints = [str(e) for e in _list(data, "endpoints")]
    settings = data.get("settings") or {}
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise UsageError("manifest: `settings` must be an object of objects", hint="key -> {default, type, min, help}")
    return Manifest(root, str(data.get("name") or root.name), library, streams, objects, endpoints, settings)
