"""The durable outbox: readings on disk (SQLite, WAL) from the device's push until the cloud's 2xx.

Every record is keyed by (device, resource path, asset timestamp); the same key is the event's
`hash` in the cloud, so a reading pushed twice or uploaded twice stays one event. A record is in
exactly one state: pending, retrying (with its next attempt time), delivered, failed (with why) or
dropped (by the declared full policy or the TTL, counted). Counters live in the same file and are
updated in the same transactions as the records they count.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgehook.errors import UsageError

STATES = ("pending", "retrying", "delivered", "failed", "dropped")
POLICIES = ("reject-new", "drop-oldest")
COUNTERS = (
    "accepted", "duplicates", "rejected_full", "dropped_oldest", "expired",
    "delivered", "failed", "retries",
)

# Named migrations, applied in order and recorded in the `migrations` table (never edited once
# released: a change is a new entry).
MIGRATIONS: list[tuple[str, str]] = [
    ("0001_records", """
        CREATE TABLE records (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            device TEXT NOT NULL,
            path TEXT NOT NULL,
            ts REAL NOT NULL,
            dtype TEXT NOT NULL,
            value TEXT NOT NULL,
            units TEXT,
            size INTEGER NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL DEFAULT 0,
            reason TEXT,
            event_id TEXT,
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX records_due ON records(state, next_attempt);
    """),
    ("0002_counters", """
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """),
    ("0003_bridge_state", """
        CREATE TABLE bridge_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    """),
    # open records in arrival order without scanning delivered ones (claims, drop-oldest)
    ("0004_open_index", """
        CREATE INDEX records_open ON records(id) WHERE state IN ('pending','retrying');
    """),
]

_OPEN = ("pending", "retrying")


def make_key(device: str, path: str, timestamp: float) -> str:
    """The identity of a reading on every hop: outbox key, event hash, webhook id."""
    return f"{device}:{path}:{timestamp:.6f}"


@dataclass
class Reading:
    """One pushed value: who, which resource, when (asset clock, s), data type, decoded value."""

    device: str
    path: str
    timestamp: float
    dtype: str
    value: Any
    units: str | None = None

    @property
    def key(self) -> str:
        return make_key(self.device, self.path, self.timestamp)


@dataclass
class Record:
    """A reading as the outbox holds it."""

    id: int
    key: str
    device: str
    path: str
    timestamp: float
    dtype: str
    value: Any
    units: str | None
    state: str
    attempts: int
    next_attempt: float
    reason: str | None
    event_id: str | None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        return {k: v for k, v in out.items() if v is not None}


class OutboxFull(Exception):
    """The outbox is at its limit and its policy is reject-new."""


class Outbox:
    """A SQLite outbox shared by the session (adds), the uploader (claims/marks) and the CLI."""

    def __init__(
        self,
        path: str | Path,
        max_records: int = 100_000,
        max_bytes: int = 64 * 1024 * 1024,
        policy: str = "reject-new",
        ttl: float | None = None,
        keep_delivered: int = 10_000,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
    ) -> None:
        if policy not in POLICIES:
            raise UsageError(f"unknown outbox policy {policy!r}", hint=f"one of {', '.join(POLICIES)}")
        if max_records < 1 or max_bytes < 1:
            raise UsageError("outbox limits must be positive")
        if ttl is not None and not ttl > 0:  # a negative TTL would drop every reading at once
            raise UsageError(f"outbox TTL must be positive, not {ttl:g}", hint="--ttl SECONDS, e.g. 86400")
        self.path = Path(path)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.policy = policy
        self.ttl = ttl
        self.keep_delivered = keep_delivered
        self.clock = clock
        self._lock = threading.RLock()
        self._claimed: set[int] = set()
        # open (count, bytes), kept in memory so an add does not scan the table (one writer)
        self._totals: tuple[int, int] | None = None
        self._since_prune = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._check_owner(readonly)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives power loss, not only a killed process (the ack promises it)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            if not readonly:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"cannot open the outbox {self.path}: {exc}",
                             hint="is it an edgehook outbox file? pass another --outbox") from exc
        except OSError as exc:  # e.g. a folder that cannot be made
            raise UsageError(f"cannot create the outbox {self.path}: {exc.strerror or exc}",
                             hint="pass an --outbox in a folder you can write") from exc

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction under the lock; a failure rolls back and forgets the totals."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._totals = None
                raise

    # -- schema ----------------------------------------------------------------------------
    def _check_owner(self, readonly: bool) -> None:
        """Refuse a database that is not an outbox (never add tables to someone else's file)."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        # a `migrations` table alone proves nothing (the local cloud's database has one too):
        # an outbox is a file whose migrations start with the outbox's first one
        ours = "migrations" in tables and self._db.execute(
            "SELECT 1 FROM migrations WHERE name=?", (MIGRATIONS[0][0],)).fetchone() is not None
        if (tables or readonly) and not ours:
            self._db.close()
            raise UsageError(f"{self.path} is not an edgehook outbox",
                             hint="pass the file the bridge uses (--outbox)")

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)"
            )
            done = {row[0] for row in self._db.execute("SELECT name FROM migrations")}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                with self._tx():
                    for stmt in filter(str.strip, sql.split(";")):
                        self._db.execute(stmt)
                    self._db.execute("INSERT INTO migrations VALUES (?, ?)", (name, self.clock()))

    def migrations(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM migrations ORDER BY name")]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- adding (one transaction per batch = group commit) ----------------------------------
    def add_many(self, readings: Iterable[Reading]) -> list[str]:
        """Store readings durably in one commit; per reading "added", "duplicate" or "full".

        Raises sqlite3.Error when the commit fails: then nothing of the batch is stored.
        """
        results: list[str] = []
        now = self.clock()
        with self._tx():
            counts, size = self._totals or self._open_totals()
            bump: dict[str, int] = {}
            for r in readings:
                value = json.dumps(r.value, separators=(",", ":"))
                rsize = len(value) + len(r.path) + 64
                full = counts + 1 > self.max_records or size + rsize > self.max_bytes
                if full and self._db.execute("SELECT 1 FROM records WHERE key=?", (r.key,)).fetchone():
                    full = False  # a duplicate is absorbed even when the outbox is full
                while full:
                    freed = self._drop_oldest(now) if self.policy == "drop-oldest" else None
                    if freed is None:
                        break
                    counts, size = counts - 1, size - freed
                    bump["dropped_oldest"] = bump.get("dropped_oldest", 0) + 1
                    full = counts + 1 > self.max_records or size + rsize > self.max_bytes
                if full:
                    results.append("full")
                    bump["rejected_full"] = bump.get("rejected_full", 0) + 1
                    continue
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO records (key, device, path, ts, dtype, value, units,"
                    " size, state, next_attempt, created, updated)"
                    " VALUES (?,?,?,?,?,?,?,?, 'pending', 0, ?, ?)",
                    (r.key, r.device, r.path, r.timestamp, r.dtype, value, r.units, rsize, now, now),
                )
                if cur.rowcount == 0:  # the key is there already: a retransmit
                    results.append("duplicate")
                    bump["duplicates"] = bump.get("duplicates", 0) + 1
                    continue
                counts, size = counts + 1, size + rsize
                results.append("added")
                bump["accepted"] = bump.get("accepted", 0) + 1
            self._bump(bump)
            self._totals = (counts, size)  # reset to None by _tx if the commit fails
        return results

    def add(self, reading: Reading) -> str:
        return self.add_many([reading])[0]

    def _open_totals(self) -> tuple[int, int]:
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records WHERE state IN ('pending','retrying')"
        ).fetchone()
        return int(row[0]), int(row[1])

    def _drop_oldest(self, now: float) -> int | None:
        row = self._db.execute(
            "SELECT id, size FROM records INDEXED BY records_open"
            " WHERE state IN ('pending','retrying') ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        self._db.execute(
            "UPDATE records SET state='dropped', reason='outbox full (drop-oldest)', updated=?"
            " WHERE id=?", (now, row[0]))
        self._claimed.discard(row[0])
        return int(row[1])

    def _bump(self, deltas: dict[str, int]) -> None:
        for name, delta in deltas.items():
            if delta:
                self._db.execute(
                    "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=value+?",
                    (name, delta, delta),
                )

    # -- the uploader's side ----------------------------------------------------------------
    def claim(self, limit: int) -> list[Record]:
        """Up to `limit` due records not already claimed, in arrival order; claimed until marked."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            rows = self._db.execute(
                "SELECT * FROM records INDEXED BY records_open"
                " WHERE state IN ('pending','retrying') AND next_attempt <= ?"
                " ORDER BY id LIMIT ?",
                (now, limit + len(self._claimed)),
            ).fetchall()
            out = [rec for rec in map(self._record, rows) if rec.id not in self._claimed][:limit]
            self._claimed.update(rec.id for rec in out)
            return out

    def mark_delivered(self, rec_id: int, event_id: str | None = None) -> None:
        self._finish(rec_id, "delivered", None, event_id)

    def mark_failed(self, rec_id: int, reason: str) -> None:
        self._finish(rec_id, "failed", reason, None)

    def mark_retry(self, rec_id: int, delay: float, reason: str) -> None:
        """Back to the queue after `delay` seconds, with the reason of this attempt."""
        now = self.clock()
        with self._tx():
            self._claimed.discard(rec_id)
            self._db.execute(
                "UPDATE records SET state='retrying', attempts=attempts+1, next_attempt=?,"
                " reason=?, updated=? WHERE id=? AND state IN ('pending','retrying')",
                (now + max(0.0, delay), reason[:500], now, rec_id),
            )
            self._bump({"retries": 1})

    def release(self, rec_id: int) -> None:
        """Give a claimed record back untouched (e.g. on shutdown)."""
        with self._lock:
            self._claimed.discard(rec_id)

    def _finish(self, rec_id: int, state: str, reason: str | None, event_id: str | None) -> None:
        now = self.clock()
        with self._tx():
            self._claimed.discard(rec_id)
            row = self._db.execute(
                "UPDATE records SET state=?, attempts=attempts+1, reason=?, event_id=?, updated=?"
                " WHERE id=? AND state IN ('pending','retrying') RETURNING size",
                (state, reason[:500] if reason else None, event_id, now, rec_id),
            ).fetchone()
            if row is not None:
                self._bump({state: 1})
            if state == "delivered":
                self._since_prune += 1
                if self._since_prune >= max(1, min(64, self.keep_delivered)):
                    self._since_prune = 0
                    self._prune_delivered()
            if row is not None and self._totals is not None:
                self._totals = (self._totals[0] - 1, self._totals[1] - int(row[0]))

    def _prune_delivered(self) -> None:
        # keep the newest `keep_delivered` delivered keys: they absorb late re-pushes locally
        self._db.execute(
            "DELETE FROM records WHERE state='delivered' AND id <= (SELECT id FROM records"
            " WHERE state='delivered' ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (self.keep_delivered,),
        )

    def _expire(self, now: float) -> None:
        if not self.ttl:
            return
        with self._tx():
            cur = self._db.execute(
                "UPDATE records SET state='dropped', reason='expired (ttl)', updated=?"
                " WHERE state IN ('pending','retrying') AND created < ?",
                (now, now - self.ttl),
            )
            self._bump({"expired": cur.rowcount})
            if cur.rowcount:
                self._totals = None

    def next_due(self) -> float | None:
        """When the earliest open record becomes due (None when nothing is open)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt) FROM records WHERE state IN ('pending','retrying')"
            ).fetchone()
            return None if row[0] is None else float(row[0])

    # -- small persistent bridge state (e.g. the last command event handled) ------------------
    def get_state(self, name: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM bridge_state WHERE name=?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_state(self, name: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO bridge_state VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=?",
                (name, json.dumps(value), json.dumps(value)),
            )

    # -- reading it ---------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        with self._lock:
            found = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return {name: int(found.get(name, 0)) for name in COUNTERS}

    def status(self) -> dict[str, Any]:
        """Depth by state, open bytes, limits, policy and the persisted counters."""
        with self._lock:
            by_state = dict(self._db.execute(
                "SELECT state, COUNT(*) FROM records GROUP BY state").fetchall())
            open_count, open_bytes = self._open_totals()
            oldest = self._db.execute(
                "SELECT MIN(ts) FROM records WHERE state IN ('pending','retrying')").fetchone()[0]
        return {
            "file": str(self.path),
            "states": {s: int(by_state.get(s, 0)) for s in STATES},
            "open": open_count,
            "open_bytes": open_bytes,
            "oldest_open_timestamp": oldest,
            "limits": {"max_records": self.max_records, "max_bytes": self.max_bytes,
                       "policy": self.policy, "ttl": self.ttl},
            "counters": self.counters(),
        }

    def records(self, state: str | None = None, limit: int | None = None) -> list[Record]:
        if state is not None and state not in STATES:
            raise UsageError(f"unknown state {state!r}", hint=f"one of {', '.join(STATES)}")
        sql = "SELECT * FROM records"
        args: list[Any] = []
        if state:
            sql += " WHERE state=?"
            args.append(state)
        sql += " ORDER BY ts, id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            return [self._record(r) for r in self._db.execute(sql, args).fetchall()]

    def _record(self, row: sqlite3.Row | tuple) -> Record:
        (rid, key, device, path, ts, dtype, value, units, _size, state, attempts, next_attempt,
         reason, event_id, _created, _updated) = row
        return Record(rid, key, device, path, ts, dtype, json.loads(value), units, state,
                      attempts, next_attempt, reason, event_id)


def open_existing(path: str | Path) -> Outbox:
    """Open an outbox file for reading by the CLI; a missing file is a UsageError."""
    if not Path(path).exists():
        raise UsageError(f"no outbox at {path}", hint="pass the file the bridge uses (--outbox)")
    return Outbox(path, readonly=True)
