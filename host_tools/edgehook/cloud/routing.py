"""What a run returns: check the routing map {stream path: [events]} whole, then write it."""

from __future__ import annotations

from typing import Any

from edgehook.cloud.store import Store

MAX_ROUTED = 1000


class RoutingError(Exception):
    """The return value cannot be routed; the run fails with this message and writes nothing."""


def check_routes(store: Store, result: Any) -> list[tuple[dict, dict, str | None]]:
    """(stream, elems, hash) for every returned event; RoutingError before anything is written."""
    if result is None:
        return []
    if not isinstance(result, dict):
        raise RoutingError("the return value must be an object mapping stream paths to arrays of events")
    out: list[tuple[dict, dict, str | None]] = []
    for path, events in result.items():
        stream = store.stream_by_path(path)
        if stream is None:
            raise RoutingError(f"returned key {path!r} is not an existing stream path (create the stream first)")
        if not isinstance(events, list):
            raise RoutingError(f"the value for {path!r} must be an array of events")
        for i, ev in enumerate(events):
            if not isinstance(ev, dict) or not isinstance(ev.get("elems"), dict):
                raise RoutingError(f"Resulting Event(s) must have `elems` with Object type ({path!r} item {i})")
            hash_ = ev.get("hash")
            if hash_ is not None and not isinstance(hash_, str):
                raise RoutingError(f"`hash` must be a string ({path!r} item {i})")
            out.append((stream, ev["elems"], hash_))
    if len(out) > MAX_ROUTED:
        raise RoutingError(f"a run may return at most {MAX_ROUTED} events, this one returned {len(out)}")
    return out


def write_routes(store: Store, routes: list[tuple[dict, dict, str | None]]) -> list[tuple[dict, str]]:
    """Create the events; a known hash updates its event (our reading). (event, outcome) each."""
    written = []
    for stream, elems, hash_ in routes:
        tags = store.tags_for_path(stream["path"])
        written.append(store.create_event(stream, elems, hash=hash_, replace=True, tags=tags))
    return written
