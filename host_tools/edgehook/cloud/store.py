"""The cloud's state in SQLite (WAL): streams and events; objects and runs live in objects.py.

The store knows no HTTP: it takes and returns plain dicts and raises the errors of errors.py.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgehook.cloud import models
from edgehook.cloud.clock import Clock
from edgehook.cloud.errors import Conflict, Invalid, NotFound
from edgehook.cloud.listing import ListParams
from edgehook.cloud.migrations import migrate
from edgehook.cloud.objects import ObjectStore

_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


def new_id(prefix: str, now_ms: int) -> str:
    """An Octave-shaped id: a type letter + 24 hex (seconds, random, counter; ordered in time)."""
    return f"{prefix}{now_ms // 1000:08x}{os.urandom(5).hex()}{next(_counter) & 0xFFFFFF:06x}"


class Store(ObjectStore):
    """Streams, events, objects and runs of one company in one SQLite file."""

    def __init__(self, path: str | Path, company: str, clock: Clock | None = None) -> None:
        self.company = company
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        with self.lock:
            migrate(self.conn)
        for path_ in (f"/{company}/:inbox/cloud-actions", f"/{company}/:inbox/tasks"):
            if self.stream_by_path(path_) is None:
                self.create_stream({"path": path_, "description": "notifications"})

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the store lock."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- streams ---------------------------------------------------------------------------
    def create_stream(self, body: Any) -> dict:
        body = models.require_object(body)
        path = models.stream_path(body.get("path"), self.company)
        now = self.clock.now_ms()
        stream = {
            "id": new_id("s", now),
            "path": path,
            "description": str(body.get("description") or ""),
            "capacity": models.capacity(body.get("capacity")),
            "creationDate": now,
            "lastEditDate": now,
            "version": 0,
        }
        with self.tx() as c:
            if c.execute("SELECT 1 FROM streams WHERE path=?", (path,)).fetchone():
                raise Conflict(f"a stream exists at {path}")
            c.execute("INSERT INTO streams (id, path, body) VALUES (?,?,?)", (stream["id"], path, json.dumps(stream)))
        return self._with_counts(stream, 0)

    def _with_counts(self, stream: dict, evicted: int) -> dict:
        return {**stream, "evicted": evicted}

    def get_stream(self, stream_id: str) -> dict:
        with self.lock:
            row = self.conn.execute("SELECT body, evicted FROM streams WHERE id=?", (stream_id,)).fetchone()
        if row is None:
            raise NotFound(f"no stream {stream_id}")
        return self._with_counts(json.loads(row[0]), row[1])

    def stream_by_path(self, path: str) -> dict | None:
        with self.lock:
            row = self.conn.execute("SELECT body, evicted FROM streams WHERE path=?", (path,)).fetchone()
        return self._with_counts(json.loads(row[0]), row[1]) if row else None

    def list_streams(self, params: ListParams) -> list[dict]:
        with self.lock:
            rows = self.conn.execute("SELECT body, evicted FROM streams ORDER BY rowid").fetchall()
        return params.apply(self._with_counts(json.loads(b), e) for b, e in rows)

    def update_stream(self, stream_id: str, body: Any) -> dict:
        body = models.require_object(body)
        with self.tx() as c:
            stream = self.get_stream(stream_id)
            if "path" in body and body["path"] != stream["path"]:
                raise Invalid("a stream's path cannot change")
            if "description" in body:
                stream["description"] = str(body["description"] or "")
            if "capacity" in body:
                stream["capacity"] = models.capacity(body["capacity"])
            stream["version"] += 1
            stream["lastEditDate"] = self.clock.now_ms()
            stream.pop("evicted", None)
            c.execute("UPDATE streams SET body=? WHERE id=?", (json.dumps(stream), stream_id))
            self._evict(c, stream_id, stream["capacity"])
        return self.get_stream(stream_id)

    def delete_stream(self, stream_id: str) -> dict:
        stream = self.get_stream(stream_id)
        with self.tx() as c:
            c.execute("DELETE FROM events WHERE stream_id=?", (stream_id,))
            c.execute("DELETE FROM streams WHERE id=?", (stream_id,))
        return stream

    # -- events ----------------------------------------------------------------------------
    def create_event(
        self,
        stream: dict,
        elems: dict,
        hash: str | None = None,
        generated_date: int | None = None,
        replace: bool = False,
        tags: dict | None = None,
    ) -> tuple[dict, str]:
        """Store one event; returns (event, outcome) with outcome created | existing | updated.

        A known `hash` returns the stored event unchanged, or with `replace` (action and task
        returns) replaces its elems with version + 1 — our reading, see docs/cloud.md.
        """
        now = self.clock.now_ms()
        with self.tx() as c:
            if hash is not None:
                row = c.execute(
                    "SELECT body FROM events WHERE stream_id=? AND hash=?", (stream["id"], hash)
                ).fetchone()
                if row is not None:
                    event = json.loads(row[0])
                    if not replace:
                        return event, "existing"
                    event.update(elems=elems, lastEditDate=now, version=event["version"] + 1)
                    c.execute("UPDATE events SET body=? WHERE id=?", (json.dumps(event), event["id"]))
                    return event, "updated"
            event = {
                "id": new_id("e", now),
                "streamId": stream["id"],
                "path": stream["path"],
                "creationDate": now,
                "lastEditDate": now,
                "generatedDate": generated_date if generated_date is not None else now,
                "hash": hash,
                "location": None,
                "metadata": {},
                "tags": tags or {},
                "version": 0,
                "elems": elems,
            }
            capacity = self._capacity(c, stream["id"])
            if capacity > 0:
                c.execute(
                    "INSERT INTO events (id, stream_id, hash, creation_date, body) VALUES (?,?,?,?,?)",
                    (event["id"], stream["id"], hash, now, json.dumps(event)),
                )
            self._evict(c, stream["id"], capacity)
        return event, "created"

    def _capacity(self, c: sqlite3.Connection, stream_id: str) -> int:
        row = c.execute("SELECT json_extract(body, '$.capacity') FROM streams WHERE id=?", (stream_id,)).fetchone()
        if row is None:
            raise NotFound(f"no stream {stream_id}")
        return int(row[0])

    def _evict(self, c: sqlite3.Connection, stream_id: str, capacity: int) -> None:
        """Oldest-first eviction beyond capacity, counted on the stream (`evicted`)."""
        cur = c.execute(
            "DELETE FROM events WHERE stream_id=? AND seq <= COALESCE(("
            "SELECT seq FROM events WHERE stream_id=? ORDER BY seq DESC LIMIT 1 OFFSET ?), -1)",
            (stream_id, stream_id, capacity),
        )
        if cur.rowcount > 0:
            c.execute("UPDATE streams SET evicted = evicted + ? WHERE id=?", (cur.rowcount, stream_id))

    def get_event(self, event_id: str, stream_id: str | None = None) -> dict:
        with self.lock:
            row = self.conn.execute("SELECT body, stream_id FROM events WHERE id=?", (event_id,)).fetchone()
        if row is None or (stream_id is not None and row[1] != stream_id):
            raise NotFound(f"no event {event_id}" + (f" in stream {stream_id}" if stream_id else ""))
        return json.loads(row[0])

    def find_hash(self, stream_id: str, hash: str) -> dict | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT body FROM events WHERE stream_id=? AND hash=?", (stream_id, hash)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def list_events(self, stream_id: str, params: ListParams) -> list[dict]:
        """Events of a stream; the common case (no filter, sort by creationDate) stays in SQL."""
        self.get_stream(stream_id)
        if params.filter is None and params.sort == "creationDate":
            order = "DESC" if params.order == "desc" else "ASC"
            with self.lock:
                rows = self.conn.execute(
                    f"SELECT body FROM events WHERE stream_id=? ORDER BY creation_date {order}, seq {order} "
                    "LIMIT ? OFFSET ?",
                    (stream_id, params.limit, params.start),
                ).fetchall()
            return [params.project(json.loads(r[0])) for r in rows]
        with self.lock:
            rows = self.conn.execute("SELECT body FROM events WHERE stream_id=? ORDER BY seq", (stream_id,)).fetchall()
        return params.apply(json.loads(r[0]) for r in rows)

    def count_events(self, stream_id: str) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM events WHERE stream_id=?", (stream_id,)).fetchone()[0])
