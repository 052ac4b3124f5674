"""The server side of Octave.Event.* and Octave.Stream.* calls made by a running script."""

from __future__ import annotations

from typing import Any

from edgehook.cloud.errors import CloudError, NotFound
from edgehook.cloud.listing import ListParams
from edgehook.cloud.store import Store


def serve_call(store: Store, name: str, args: list) -> dict:
    """Answer one call: {"ok": True, "result": ...} or {"ok": False, "error": {...}}."""
    try:
        fn = _CALLS.get(name)
        if fn is None:
            return _err(f"Octave.{name} is not available")
        return {"ok": True, "result": fn(store, *args)}
    except CloudError as exc:
        return _err(f"Octave.{name}: {exc}")
    except TypeError as exc:
        return _err(f"Octave.{name}: bad arguments ({exc})")


def _err(message: str) -> dict:
    return {"ok": False, "error": {"message": message, "details": []}}


def _stream_id(store: Store, ref: Any) -> str:
    """A stream id, or (an extension) a stream path."""
    if not isinstance(ref, str):
        raise NotFound("a stream id (or path) must be a string")
    if ref.startswith("/"):
        stream = store.stream_by_path(ref)
        if stream is None:
            raise NotFound(f"no stream at {ref}")
        return stream["id"]
    store.get_stream(ref)
    return ref


def _options(options: Any) -> dict:
    return options if isinstance(options, dict) else {}


def event_get(store: Store, stream_id: str, event_id: str) -> dict | None:
    try:
        return store.get_event(event_id, _stream_id(store, stream_id))
    except NotFound:
        return None


def event_find(store: Store, stream_id: str, options: Any = None) -> list[dict]:
    return store.list_events(_stream_id(store, stream_id), ListParams.parse(_options(options)))


def event_find_one(store: Store, stream_id: str, options: Any = None) -> dict | None:
    found = event_find(store, stream_id, {**_options(options), "limit": 1})
    return found[0] if found else None


def event_find_hash(store: Store, stream_id: str, hash_value: Any) -> dict | None:
    return store.find_hash(_stream_id(store, stream_id), str(hash_value))


def event_multifind(store: Store, queries: Any) -> list[list[dict]]:
    if not isinstance(queries, list):
        raise NotFound("multifind takes an array of {streamId | path, params}")
    out = []
    for q in queries:
        q = _options(q)
        out.append(event_find(store, str(q.get("streamId") or q.get("path") or ""), q.get("params")))
    return out


def stream_get(store: Store, stream_id: str) -> dict | None:
    try:
        return store.get_stream(stream_id)
    except NotFound:
        return None


def stream_find(store: Store, options: Any = None) -> list[dict]:
    return store.list_streams(ListParams.parse(_options(options)))


_CALLS: dict[str, Any] = {
    "Event.get": event_get,
    "Event.find": event_find,
    "Event.findOne": event_find_one,
    "Event.findHash": event_find_hash,
    "Event.multifind": event_multifind,
    "Stream.get": stream_get,
    "Stream.find": stream_find,
}
