"""The durable outbox on real SQLite files: keys, states, limits and policies, TTL, counters."""

from __future__ import annotations

import sqlite3

import pytest

from edgehook.bridge.outbox import Outbox, Reading, make_key, open_existing
from edgehook.cloud.migrations import migrate as cloud_migrate
from edgehook.errors import UsageError


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reading(i: int, path: str = "env/temp/value", value: object = 20.5) -> Reading:
    return Reading("dev1", path, 1_700_000_000.0 + i / 8, "N", value, "degC")


def test_file_is_wal_with_named_migrations(tmp_path):
    box = Outbox(tmp_path / "o.db")
    assert box.migrations() == ["0001_records", "0002_counters", "0003_bridge_state", "0004_open_index"]
    box.close()
    db = sqlite3.connect(tmp_path / "o.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == 4
    Outbox(tmp_path / "o.db").close()  # reopening applies nothing twice
    assert db.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == 4


def test_key_is_device_path_timestamp_and_duplicates_are_absorbed(tmp_path):
    box = Outbox(tmp_path / "o.db")
    r = reading(1)
    assert r.key == make_key("dev1", "env/temp/value", 1_700_000_000.125) == \
        "dev1:env/temp/value:1700000000.125000"
    assert box.add_many([r, reading(2), r]) == ["added", "added", "duplicate"]
    assert box.add(r) == "duplicate"
    assert box.status()["states"]["pending"] == 2
    c = box.counters()
    assert (c["accepted"], c["duplicates"]) == (2, 2)


def test_records_keep_their_value_and_state_through_delivery_failure_and_retry(tmp_path):
    clock = Clock()
    box = Outbox(tmp_path / "o.db", clock=clock)
    box.add_many([reading(i, value={"a": i}) for i in range(3)])
    recs = box.claim(10)
    assert [r.value for r in recs] == [{"a": 0}, {"a": 1}, {"a": 2}]
    assert box.claim(10) == []  # claimed ones are not handed out twice
    box.mark_delivered(recs[0].id, "e123")
    box.mark_failed(recs[1].id, "HTTP 400: elems must be an object")
    box.mark_retry(recs[2].id, 30.0, "HTTP 503")
    assert box.claim(10) == []  # not due yet
    clock.now += 31
    again = box.claim(10)
    assert [(r.id, r.state, r.attempts, r.reason) for r in again] == [(recs[2].id, "retrying", 1, "HTTP 503")]
    failed = box.records(state="failed")
    assert [(r.key, r.reason) for r in failed] == [(recs[1].key, "HTTP 400: elems must be an object")]
    assert box.records(state="delivered")[0].event_id == "e123"
    box.close()
    reopened = Outbox(tmp_path / "o.db")
    c = reopened.counters()
    assert (c["delivered"], c["failed"], c["retries"], c["accepted"]) == (1, 1, 1, 3)
    assert reopened.status()["states"] == {"pending": 0, "retrying": 1, "delivered": 1,
                                           "failed": 1, "dropped": 0}


def test_reject_new_when_full_counts_and_keeps_old(tmp_path):
    box = Outbox(tmp_path / "o.db", max_records=3)
    assert box.add_many([reading(i) for i in range(5)]) == ["added"] * 3 + ["full"] * 2
    assert box.counters()["rejected_full"] == 2
    assert box.add(reading(0)) == "duplicate"  # a retransmit is absorbed even when full
    rec = box.claim(1)[0]
    box.mark_delivered(rec.id)  # delivered records no longer count against the limit
    assert box.add(reading(9)) == "added"


def test_drop_oldest_when_full_marks_them_dropped_and_counts(tmp_path):
    box = Outbox(tmp_path / "o.db", max_records=3, policy="drop-oldest")
    assert box.add_many([reading(i) for i in range(5)]) == ["added"] * 5
    dropped = box.records(state="dropped")
    assert [r.timestamp for r in dropped] == [reading(0).timestamp, reading(1).timestamp]
    assert all(r.reason == "outbox full (drop-oldest)" for r in dropped)
    assert box.counters()["dropped_oldest"] == 2
    assert box.status()["open"] == 3


def test_byte_limit(tmp_path):
    box = Outbox(tmp_path / "o.db", max_bytes=400)
    results = box.add_many([reading(i, value="x" * 100) for i in range(5)])
    assert results.count("added") == 2 and results[2:] == ["full"] * 3
    assert box.status()["open_bytes"] <= 400


def test_ttl_expires_open_records_with_a_reason(tmp_path):
    clock = Clock()
    box = Outbox(tmp_path / "o.db", ttl=60, clock=clock)
    box.add(reading(1))
    clock.now += 30
    box.add(reading(2))
    clock.now += 40
    assert [r.key for r in box.claim(5)] == [reading(2).key]
    expired = box.records(state="dropped")
    assert [(r.key, r.reason) for r in expired] == [(reading(1).key, "expired (ttl)")]
    assert box.counters()["expired"] == 1


def test_delivered_records_are_pruned_beyond_keep_delivered(tmp_path):
    box = Outbox(tmp_path / "o.db", keep_delivered=2)
    box.add_many([reading(i) for i in range(6)])
    for rec in box.claim(6):
        box.mark_delivered(rec.id)
    assert len(box.records(state="delivered")) == 2
    assert box.counters()["delivered"] == 6


def test_bridge_state_persists(tmp_path):
    box = Outbox(tmp_path / "o.db")
    assert box.get_state("cursor") is None
    box.set_state("cursor", {"date": 5, "ids": ["e1"]})
    box.close()
    assert Outbox(tmp_path / "o.db").get_state("cursor") == {"date": 5, "ids": ["e1"]}


def test_bad_files_and_arguments_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no outbox"):
        open_existing(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UsageError, match="cannot open the outbox"):
        Outbox(junk)
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE mine (x)")
    db.commit()
    with pytest.raises(UsageError, match="is not an edgehook outbox"):
        Outbox(other)  # someone else's database is left alone
    with pytest.raises(UsageError, match="is not an edgehook outbox"):
        open_existing(other)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["mine"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not even switched to WAL
    with pytest.raises(UsageError, match="policy"):
        Outbox(tmp_path / "o.db", policy="keep-everything")
    with pytest.raises(UsageError, match="TTL must be positive"):
        Outbox(tmp_path / "o.db", ttl=-5)
    with pytest.raises(UsageError, match="cannot create the outbox"):
        Outbox(junk / "sub" / "o.db")  # its folder would be inside a file


def test_the_local_clouds_database_is_not_taken_for_an_outbox(tmp_path):
    # the cloud's store has a `migrations` table too: the outbox must not migrate into it
    cloud_db = tmp_path / "cloud.db"
    db = sqlite3.connect(cloud_db)
    cloud_migrate(db)
    before = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    for opener in (Outbox, open_existing):
        with pytest.raises(UsageError, match="is not an edgehook outbox"):
            opener(cloud_db)
    assert sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")) == before
    with pytest.raises(UsageError, match="unknown state"):
        Outbox(tmp_path / "o.db").records(state="lost")


def test_limits_stay_exact_while_adds_and_deliveries_interleave(tmp_path):
    import threading

    box = Outbox(tmp_path / "o.db", max_records=50)
    done = threading.Event()

    def deliver() -> None:
        while not done.is_set() or box.status()["open"]:
            for rec in box.claim(3):
                box.mark_delivered(rec.id)

    t = threading.Thread(target=deliver)
    t.start()
    results = []
    for i in range(0, 300, 5):
        results += box.add_many([reading(i + k) for k in range(5)])
    done.set()
    t.join(20)
    assert box.status()["open"] == 0
    assert box.counters()["delivered"] == results.count("added")
    later = box.add_many([reading(1000 + i) for i in range(60)])
    assert later.count("added") == 50 and later.count("full") == 10
