"""Deploying a built bundle through the REST API: idempotent create / update / leave alone by name.

Streams are matched by path, actions and tasks by `description` (Octave's "Action name").
An object is updated only when one of its fields differs; objects a previous deploy made for a
source that is no longer configured are deleted. `dry_run` only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from edgehook.bundle.build import BuiltObject, Bundle
from edgehook.octave.client import OctaveClient

log = logging.getLogger(__name__)

LIST_LIMIT = 10_000


@dataclass(frozen=True)
class Change:
    """What deploy did (or would do) to one stream, action or task. Never holds js or secrets."""

    kind: str  # stream | action | task
    name: str
    op: str  # created | updated | unchanged | deleted
    id: str | None = None
    fields: tuple[str, ...] = ()  # the fields that differ, for updates


def _differs(built: dict, stored: dict) -> tuple[str, ...]:
    want = {**built, "disabled": False}
    return tuple(sorted(k for k, v in want.items() if stored.get(k) != v))


def _deploy_streams(client: OctaveClient, bundle: Bundle, dry_run: bool) -> list[Change]:
    changes = []
    for spec in bundle.streams:
        stream = client.find_stream(spec["path"])
        if stream is None:
            sid = None if dry_run else client.create_stream(spec["path"], spec["description"], spec["capacity"])["id"]
            changes.append(Change("stream", spec["path"], "created", sid))
        elif spec["capacity"] is not None and stream.get("capacity") != spec["capacity"]:
            if not dry_run:
                client.update_object("stream", stream["id"], {"capacity": spec["capacity"]})
            changes.append(Change("stream", spec["path"], "updated", stream["id"], ("capacity",)))
        else:
            changes.append(Change("stream", spec["path"], "unchanged", stream["id"]))
    return changes


def _source_streams(client: OctaveClient, bundle: Bundle, dry_run: bool) -> list[Change]:
    """Exact-path sources must exist before events flow (the bridge would create them later)."""
    changes: list[Change] = []
    for obj in bundle.objects:
        source = str(obj.fields.get("source", ""))
        if not source.startswith("/") or any(c.name == source for c in changes):
            continue
        if any(s["path"] == source for s in bundle.streams):
            continue
        if client.find_stream(source) is None:
            sid = None if dry_run else client.create_stream(source, "device observation stream")["id"]
            changes.append(Change("stream", source, "created", sid))
    return changes


def _deploy_objects(client: OctaveClient, bundle: Bundle, kind: str, owned: list[str], dry_run: bool) -> list[Change]:
    stored = client.list_objects(kind, limit=LIST_LIMIT)
    by_name = {o.get("description"): o for o in stored}
    changes = []
    built: list[BuiltObject] = [o for o in bundle.objects if o.kind == kind]
    for obj in built:
        old = by_name.get(obj.name)
        if old is None:
            oid = None if dry_run else client.create_object(kind, obj.fields)["id"]
            changes.append(Change(kind, obj.name, "created", oid))
            continue
        diff = _differs(obj.fields, old)
        if diff:
            if not dry_run:
                client.update_object(kind, old["id"], {**obj.fields, "disabled": False})
            changes.append(Change(kind, obj.name, "updated", old["id"], diff))
        else:
            changes.append(Change(kind, obj.name, "unchanged", old["id"]))
    names = {o.name for o in built}
    for old in stored:
        name = str(old.get("description") or "")
        if name not in names and any(name.startswith(base + " ") or name == base for base in owned):
            if not dry_run:
                client.delete_object(kind, old["id"])
            changes.append(Change(kind, name, "deleted", old["id"]))
    return changes


def deploy_bundle(
    client: OctaveClient,
    bundle: Bundle,
    owned: list[str],
    dry_run: bool = False,
    progress: Callable[[Change], None] | None = None,
) -> list[Change]:
    """Make the cloud hold the bundle; returns every change (created/updated/unchanged/deleted).

    `owned` are the manifest's object names: stored objects named so (or `<name> <source>`)
    that the bundle no longer builds are deleted.
    """
    changes: list[Change] = []
    steps: list[Callable[[], list[Change]]] = [
        lambda: _deploy_streams(client, bundle, dry_run),
        lambda: _source_streams(client, bundle, dry_run),
        lambda: _deploy_objects(client, bundle, "task", owned, dry_run),
        lambda: _deploy_objects(client, bundle, "action", owned, dry_run),
    ]
    for step in steps:
        for change in step():
            log.info("%s %s %s", change.op, change.kind, change.name)
            if progress:
                progress(change)
            changes.append(change)
    return changes
