"""The store's schema as named migrations, applied once each and recorded in a table."""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_streams_events",
        """
        CREATE TABLE streams (
            id TEXT PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,            -- the stream object as JSON
            evicted INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
            hash TEXT,
            creation_date INTEGER NOT NULL,
            body TEXT NOT NULL             -- the event object as JSON
        );
        CREATE INDEX events_by_stream ON events(stream_id, seq);
        CREATE UNIQUE INDEX events_by_hash ON events(stream_id, hash) WHERE hash IS NOT NULL;
        """,
    ),
    (
        "0002_objects_runs",
        """
        CREATE TABLE objects (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,            -- action | task | device
            name TEXT,                     -- device name (unique per kind)
            body TEXT NOT NULL
        );
        CREATE UNIQUE INDEX objects_by_name ON objects(kind, name) WHERE name IS NOT NULL;
        CREATE TABLE object_state (
            id TEXT PRIMARY KEY,           -- action or task id
            failures INTEGER NOT NULL DEFAULT 0,
            next_due_ms INTEGER            -- tasks: the next time the task runs
        );
        CREATE TABLE runs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            object_id TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX runs_by_object ON runs(object_id, seq);
        """,
    ),
    (
        "0003_run_queue",
        """
        CREATE TABLE run_queue (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            body TEXT NOT NULL             -- a queued run (runner.Job) not yet finished
        );
        """,
    ),
]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        with conn:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO migrations (name, applied_ms) VALUES (?, ?)",
                (name, int(time.time() * 1000)),
            )
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
