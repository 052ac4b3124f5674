"""Reading delivery records and asking the cloud to replay them or to re-enable an endpoint.

Records live in `/<company>/webhooks/deliveries`, one event per (source event, endpoint). Changes
go through the commands stream, which the bundle's control action turns into record updates: a
record is only ever written by the cloud bundle itself.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

from edgehook.errors import UsageError
from edgehook.octave.client import OctaveClient

STATES = ("delivered", "pending", "retrying", "failed")
LIMIT = 10_000
_TARGET = re.compile(r"^[A-Za-z0-9_:.\-@/]{1,200}$")
_ENDPOINT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # as the settings name them


@dataclass(frozen=True)
class Paths:
    """The bundle's stream paths for one company."""

    deliveries: str
    endpoints: str
    commands: str

    @classmethod
    def of(cls, company: str) -> Paths:
        base = f"/{company}/webhooks"
        return cls(f"{base}/deliveries", f"{base}/endpoints", f"{base}/commands")


def _record(event: dict) -> dict:
    return {**(event.get("elems") or {}), "recordId": event.get("id"), "version": event.get("version")}


def list_deliveries(client: OctaveClient, state: str | None = None, limit: int = 100, endpoint: str | None = None) -> list[dict]:
    """Records, newest first, optionally of one state and/or endpoint."""
    if state is not None and state not in STATES:
        raise UsageError(f"unknown state {state}", hint=f"one of {', '.join(STATES)}")
    clauses = []
    if state:
        clauses.append(f"elems.state == '{state}'")
    if endpoint:
        _check_endpoint(endpoint)
        clauses.append(f"elems.endpoint == '{endpoint}'")
    params: dict = {"limit": limit, "order": "desc"}
    if clauses:
        params["filter"] = " && ".join(clauses)
    events = client.list_events(path=Paths.of(client.company).deliveries, **params)
    return [_record(e) for e in events]


def _check_target(target: str) -> None:
    if not _TARGET.match(target):
        raise UsageError(f"bad delivery id {target!r}", hint="a record id (e…), a webhook id (msg_…) or a record hash")


def _check_endpoint(name: str) -> None:
    if not _ENDPOINT.match(name):
        raise UsageError(f"bad endpoint name {name!r}", hint="the name of a configured endpoint, e.g. webhook")


def find_deliveries(client: OctaveClient, target: str) -> list[dict]:
    """The records matching a record id, a webhook id (one per endpoint) or a record hash."""
    _check_target(target)
    flt = f"id == '{target}' || hash == '{target}' || elems.webhookId == '{target}' || elems.sourceEventId == '{target}'"
    events = client.list_events(path=Paths.of(client.company).deliveries, filter=flt, limit=100)
    return [_record(e) for e in events]


def counts(client: OctaveClient) -> Counter:
    """Records by state."""
    events = client.list_events(path=Paths.of(client.company).deliveries, limit=LIMIT, only="elems.state")
    return Counter(str((e.get("elems") or {}).get("state")) for e in events)


def stuck(records: list[dict], now_ms: int | None = None, grace_s: float = 120.0) -> list[dict]:
    """Pending or retrying records whose next attempt is more than `grace_s` in the past."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return [
        r for r in records
        if r.get("state") in ("pending", "retrying") and isinstance(r.get("nextAttemptAt"), (int, float))
        and r["nextAttemptAt"] < now_ms - grace_s * 1000
    ]


def _command(client: OctaveClient, elems: dict) -> dict:
    stream = client.find_stream(Paths.of(client.company).commands)
    if stream is None:
        raise UsageError("the bundle is not deployed in this company", hint="run `edgehook deploy` first")
    return client.create_event(stream["id"], elems)


def replay(client: OctaveClient, target: str | None = None, failed: bool = False) -> list[dict]:
    """Ask the cloud to deliver again the matching records (or every failed one); returns them."""
    if failed == (target is not None):
        raise UsageError("replay needs one delivery id or --failed", hint="edgehook deliveries replay ID | --failed")
    records = list_deliveries(client, state="failed", limit=LIMIT) if failed else find_deliveries(client, str(target))
    if not records:
        return []
    if failed:
        _command(client, {"command": "replay", "target": "failed", "limit": LIMIT})
    else:
        for rec in records:
            _command(client, {"command": "replay", "target": rec["hash"]})
    return records


def enable_endpoint(client: OctaveClient, name: str) -> dict:
    """Mark an endpoint active again after a 410 (the next readings are posted to it)."""
    _check_endpoint(name)
    return _command(client, {"command": "enable", "endpoint": name})


def endpoint_states(client: OctaveClient) -> list[dict]:
    """The endpoints' recorded states (gone / active); endpoints never marked are not listed."""
    events = client.list_events(path=Paths.of(client.company).endpoints, limit=1000)
    return [e.get("elems") or {} for e in events]
