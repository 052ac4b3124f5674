"""The edge's resource table: what the asset created, with Octave's limits and Legato status codes.

Limits from Octave's ORP header: 32 resources per asset, path at most 79 characters, units at
most 23. Each rule answers with one status (docs/bridge.md, "Status codes"):
  over the resource count → NO_MEMORY, path / units too long → OUT_OF_RANGE,
  malformed path → BAD_PARAMETER, creating an existing path with another kind, type or units →
  DUPLICATE (the same definition again is OK, as Legato's Data Hub answers), unknown path →
  NOT_FOUND, a push onto an output → NOT_PERMITTED, any other request that does not fit the
  resource's kind or data type → BAD_PARAMETER.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from edgehook.orp import DataType, Status

MAX_RESOURCES = 32
MAX_PATH = 79
MAX_UNITS = 23
KINDS = ("input", "output", "sensor")
_PATH_RE = re.compile(r"^[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)*$")


@dataclass
class Resource:
    """One resource the asset created (path relative to the asset root)."""

    path: str
    kind: str
    dtype: str
    units: str | None = None
    handler: bool = False
    value: Any = None
    timestamp: float | None = None
    has_value: bool = False
    example: Any = None
    pushes: int = 0
    updated: float = field(default_factory=time.time)


class ResourceTable:
    """Thread-safe table of resources; every operation returns a Status (never raises on input)."""

    def __init__(self, max_resources: int = MAX_RESOURCES) -> None:
        self.max_resources = max_resources
        self._items: dict[str, Resource] = {}
        self._lock = threading.Lock()

    @staticmethod
    def check_path(path: str | None) -> Status:
        if not path:
            return Status.BAD_PARAMETER
        if len(path) > MAX_PATH:
            return Status.OUT_OF_RANGE
        if not _PATH_RE.match(path) or any(seg in (".", "..") for seg in path.split("/")):
            return Status.BAD_PARAMETER
        return Status.OK

    def create(self, path: str | None, kind: str, dtype: str, units: str | None) -> Status:
        status = self.check_path(path)
        if status is not Status.OK:
            return status
        assert path is not None
        if units is not None and len(units) > MAX_UNITS:
            return Status.OUT_OF_RANGE
        if dtype not in (d.value for d in DataType) or dtype == DataType.UNDEFINED:
            return Status.BAD_PARAMETER
        with self._lock:
            old = self._items.get(path)
            if old is not None:
                same = (old.kind, old.dtype, old.units or "") == (kind, dtype, units or "")
                return Status.OK if same else Status.DUPLICATE
            if len(self._items) >= self.max_resources:
                return Status.NO_MEMORY
            self._items[path] = Resource(path, kind, dtype, units)
        return Status.OK

    def delete(self, path: str | None, kind: str | None = None) -> Status:
        """Delete a resource; with `kind`, only one of that kind (remove-sensor)."""
        with self._lock:
            res = self._items.get(path or "")
            if res is None:
                return Status.NOT_FOUND
            if kind is not None and res.kind != kind:
                return Status.BAD_PARAMETER
            del self._items[res.path]
        return Status.OK

    def set_handler(self, path: str | None, on: bool) -> Status:
        with self._lock:
            res = self._items.get(path or "")
            if res is None:
                return Status.NOT_FOUND
            if res.kind != "output":
                return Status.BAD_PARAMETER
            res.handler = on
        return Status.OK

    def check_push(self, path: str | None, dtype: str) -> tuple[Status, Resource | None]:
        """Whether a push of `dtype` onto `path` is allowed (inputs and sensors of that type)."""
        with self._lock:
            res = self._items.get(path or "")
        if res is None:
            return Status.NOT_FOUND, None
        if res.kind == "output":
            return Status.NOT_PERMITTED, res
        if dtype != res.dtype:
            return Status.BAD_PARAMETER, res
        return Status.OK, res

    def record_value(self, path: str, value: Any, timestamp: float) -> None:
        with self._lock:
            res = self._items.get(path)
            if res is not None:
                res.value, res.timestamp, res.has_value = value, timestamp, True
                res.pushes += 1
                res.updated = time.time()

    def set_example(self, path: str | None, value: Any) -> Status:
        with self._lock:
            res = self._items.get(path or "")
            if res is None:
                return Status.NOT_FOUND
            if res.kind == "output" or res.dtype != DataType.JSON:
                return Status.BAD_PARAMETER
            res.example = value
        return Status.OK

    def get(self, path: str | None) -> Resource | None:
        with self._lock:
            return self._items.get(path or "")

    def snapshot(self) -> list[Resource]:
        with self._lock:
            return [Resource(**r.__dict__) for r in sorted(self._items.values(), key=lambda r: r.path)]

    def __len__(self) -> int:
        return len(self._items)
