"""Store of actions, tasks and devices (versioned JSON objects), their run records and state."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from edgehook.cloud import models
from edgehook.cloud.clock import Clock
from edgehook.cloud.errors import Conflict, Invalid, NotFound
from edgehook.cloud.listing import ListParams

PREFIX = {"action": "a", "task": "t", "device": "d"}
DEVICE_STREAMS = (":inbox", ":command", ":default")
_TAG_SOURCE = re.compile(r"^@([^=/]+)=([^/]*)/(.+)$")


class ObjectStore:
    """Mixin of Store: the parts that are not streams and events."""

    company: str
    clock: Clock
    lock: threading.RLock
    conn: sqlite3.Connection

    # provided by Store
    def tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def create_stream(self, body: Any) -> dict:
        raise NotImplementedError

    def stream_by_path(self, path: str) -> dict | None:
        raise NotImplementedError

    def _new_id(self, kind: str) -> str:
        from edgehook.cloud.store import new_id

        return new_id(PREFIX[kind], self.clock.now_ms())

    def _rows(self, kind: str) -> Iterator[dict]:
        with self.lock:
            rows = self.conn.execute("SELECT body FROM objects WHERE kind=? ORDER BY rowid", (kind,)).fetchall()
        return (json.loads(r[0]) for r in rows)

    # -- CRUD --------------------------------------------------------------------------------
    def create_object(self, kind: str, body: Any) -> dict:
        body = models.require_object(body)
        if kind == "device":
            return self.create_device(body)
        fields = models.action_fields(body) if kind == "action" else models.task_fields(body)
        now = self.clock.now_ms()
        obj = {"id": self._new_id(kind), **fields, "version": 0, "creationDate": now, "lastEditDate": now}
        with self.tx() as c:
            c.execute("INSERT INTO objects (id, kind, body) VALUES (?,?,?)", (obj["id"], kind, json.dumps(obj)))
            due = now + int(obj["period"] * 1000) if kind == "task" else None
            c.execute("INSERT INTO object_state (id, next_due_ms) VALUES (?, ?)", (obj["id"], due))
        return obj

    def get_object(self, kind: str, obj_id: str) -> dict:
        with self.lock:
            row = self.conn.execute("SELECT body FROM objects WHERE id=? AND kind=?", (obj_id, kind)).fetchone()
        if row is None:
            raise NotFound(f"no {kind} {obj_id}")
        return json.loads(row[0])

    def list_objects(self, kind: str, params: ListParams) -> list[dict]:
        return params.apply(self._rows(kind))

    def update_object(self, kind: str, obj_id: str, body: Any) -> dict:
        """PUT: the given writable fields replace the stored ones; version + 1."""
        body = models.require_object(body)
        old = self.get_object(kind, obj_id)
        if kind == "device":
            new = {**old, **_device_fields(body)}
        else:
            merged = {**old, **{k: v for k, v in body.items() if k not in ("id", "version")}}
            new = {**old, **(models.action_fields(merged) if kind == "action" else models.task_fields(merged))}
        now = self.clock.now_ms()
        new.update(version=old["version"] + 1, lastEditDate=now)
        with self.tx() as c:
            c.execute("UPDATE objects SET body=? WHERE id=?", (json.dumps(new), obj_id))
            if kind == "task" and (new["period"] != old["period"] or (old["disabled"] and not new["disabled"])):
                c.execute("UPDATE object_state SET next_due_ms=? WHERE id=?", (now + int(new["period"] * 1000), obj_id))
            if kind != "device" and old.get("disabled") and not new["disabled"]:
                c.execute("UPDATE object_state SET failures=0 WHERE id=?", (obj_id,))
        return new

    def delete_object(self, kind: str, obj_id: str) -> dict:
        obj = self.get_object(kind, obj_id)
        with self.tx() as c:
            c.execute("DELETE FROM objects WHERE id=?", (obj_id,))
            c.execute("DELETE FROM object_state WHERE id=?", (obj_id,))
        return obj

    # -- devices -----------------------------------------------------------------------------
    def create_device(self, body: dict) -> dict:
        name = models.device_name(body.get("name"))
        now = self.clock.now_ms()
        device = {
            "id": self._new_id("device"),
            "name": name,
            "displayName": str(body.get("displayName") or name),
            "tags": {},
            "state": {},
            "creationDate": now,
            "lastEditDate": now,
            "version": 0,
            "provisioningStatus": "OPERATIONAL",
        }
        device.update(_device_fields(body))
        with self.tx() as c:
            if c.execute("SELECT 1 FROM objects WHERE kind='device' AND name=?", (name,)).fetchone():
                raise Conflict(f"a device named {name} exists")
            c.execute(
                "INSERT INTO objects (id, kind, name, body) VALUES (?,?,?,?)",
                (device["id"], "device", name, json.dumps(device)),
            )
        for suffix in DEVICE_STREAMS:
            path = f"/{self.company}/devices/{name}/{suffix}"
            if self.stream_by_path(path) is None:
                self.create_stream({"path": path, "description": f"{name} {suffix}"})
        return device

    def get_device(self, name_or_id: str) -> dict:
        with self.lock:
            row = self.conn.execute(
                "SELECT body FROM objects WHERE kind='device' AND (id=? OR name=?)", (name_or_id, name_or_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no device {name_or_id}")
        return json.loads(row[0])

    def device_of_path(self, path: str) -> dict | None:
        """The device whose stream `path` is (`/<company>/devices/<name>/...`), if any."""
        parts = path.split("/")
        if len(parts) >= 5 and parts[2] == "devices":
            try:
                return self.get_device(parts[3])
            except NotFound:
                return None
        return None

    def tags_for_path(self, path: str) -> dict:
        """Device tags that the cloud adds to the events of a device's streams."""
        device = self.device_of_path(path)
        return dict(device.get("tags") or {}) if device else {}

    # -- actions and events ------------------------------------------------------------------
    def actions_for(self, event: dict) -> list[dict]:
        """Enabled actions whose source is the event's stream path or a matching tag source."""
        out = []
        for action in self._rows("action"):
            if action.get("disabled"):
                continue
            source = action["source"]
            if source == event["path"]:
                out.append(action)
                continue
            m = _TAG_SOURCE.match(source)
            if m and event["path"].endswith("/" + m.group(3).lstrip("/")):
                tags = event.get("tags") or {}
                if str(tags.get(m.group(1))) == m.group(2):
                    out.append(action)
        return out

    # -- runs and state ----------------------------------------------------------------------
    def record_run(self, obj_id: str, run: dict, failed: bool) -> int:
        """Store a run record; returns the consecutive failures of the object after it."""
        with self.tx() as c:
            c.execute("INSERT INTO runs (object_id, body) VALUES (?, ?)", (obj_id, json.dumps(run)))
            if failed:
                c.execute("UPDATE object_state SET failures = failures + 1 WHERE id=?", (obj_id,))
            else:
                c.execute("UPDATE object_state SET failures = 0 WHERE id=?", (obj_id,))
            row = c.execute("SELECT failures FROM object_state WHERE id=?", (obj_id,)).fetchone()
        return int(row[0]) if row else 0

    def list_runs(self, obj_id: str, params: ListParams) -> list[dict]:
        with self.lock:
            rows = self.conn.execute("SELECT body FROM runs WHERE object_id=? ORDER BY seq", (obj_id,)).fetchall()
        return params.apply(json.loads(r[0]) for r in rows)

    def last_errors(self, obj_id: str, n: int) -> list[str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT json_extract(body, '$.error') FROM runs WHERE object_id=? ORDER BY seq DESC LIMIT ?",
                (obj_id, n),
            ).fetchall()
        return [r[0] for r in rows if r[0]]

    def set_disabled(self, kind: str, obj_id: str) -> dict:
        """The system disables an object (repeated failures): no version change (our reading)."""
        with self.tx() as c:
            obj = self.get_object(kind, obj_id)
            obj.update(disabled=True, lastEditDate=self.clock.now_ms())
            c.execute("UPDATE objects SET body=? WHERE id=?", (json.dumps(obj), obj_id))
        return obj

    def enqueue_run(self, job: dict) -> int:
        """Keep a queued run on disk until it finished, so a restart does not lose it."""
        with self.tx() as c:
            cur = c.execute("INSERT INTO run_queue (body) VALUES (?)", (json.dumps(job),))
        return int(cur.lastrowid or 0)

    def dequeue_run(self, qid: int) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM run_queue WHERE seq=?", (qid,))

    def queued_runs(self) -> list[tuple[int, dict]]:
        with self.lock:
            rows = self.conn.execute("SELECT seq, body FROM run_queue ORDER BY seq").fetchall()
        return [(int(q), json.loads(b)) for q, b in rows]

    def due_tasks(self, now_ms: int) -> list[tuple[dict, int]]:
        """(task, due time) of enabled tasks due at or before now, earliest first."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT o.body, s.next_due_ms FROM objects o JOIN object_state s ON o.id = s.id "
                "WHERE o.kind='task' AND s.next_due_ms <= ? ORDER BY s.next_due_ms",
                (now_ms,),
            ).fetchall()
        tasks = [(json.loads(b), int(d)) for b, d in rows]
        return [(t, d) for t, d in tasks if not t.get("disabled")]

    def next_due(self) -> int | None:
        """The earliest due time of an enabled task."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT o.body, s.next_due_ms FROM objects o JOIN object_state s ON o.id = s.id "
                "WHERE o.kind='task' AND s.next_due_ms IS NOT NULL ORDER BY s.next_due_ms"
            ).fetchall()
        for body, due in rows:
            if not json.loads(body).get("disabled"):
                return int(due)
        return None

    def set_next_due(self, task_id: str, due_ms: int) -> None:
        with self.tx() as c:
            c.execute("UPDATE object_state SET next_due_ms=? WHERE id=?", (due_ms, task_id))


def _device_fields(body: dict) -> dict:
    out: dict[str, Any] = {}
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise Invalid("device tags must be an object of strings")
        out["tags"] = tags
    if "state" in body:
        out["state"] = models.require_object(body["state"], "state")
    if "displayName" in body:
        out["displayName"] = str(body["displayName"])
    return out
