"""REST handlers of the Octave v5.0 subset: parse the call, ask the service, return the body.

Handlers know no SQL and no JavaScript; envelope.endpoint wraps each in auth and the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgehook.cloud.envelope import Call
from edgehook.cloud.errors import Invalid, NotFound
from edgehook.cloud.listing import ListParams


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Any
    status: int
    summary: str
    extension: bool = False


# -- streams ------------------------------------------------------------------------------
def list_streams(c: Call) -> Any:
    return c.service.store.list_streams(ListParams.parse(c.query))


def create_stream(c: Call) -> Any:
    return c.service.store.create_stream(c.json())


def get_stream(c: Call) -> Any:
    return c.service.store.get_stream(c.params["id"])


def update_stream(c: Call) -> Any:
    return c.service.store.update_stream(c.params["id"], c.json())


def delete_stream(c: Call) -> Any:
    return c.service.store.delete_stream(c.params["id"])


# -- events -------------------------------------------------------------------------------
def create_event(c: Call) -> Any:
    stream = c.service.store.get_stream(c.params["streamId"])
    event, outcome = c.service.ingest(stream, c.json())
    return (201 if outcome == "created" else 200), event


def create_event_by_path(c: Call) -> Any:
    body = c.json()
    path = body.get("path") if isinstance(body, dict) else None
    if not isinstance(path, str):
        raise Invalid("creating an event without a stream id needs a top-level `path`")
    stream = c.service.store.stream_by_path(path)
    if stream is None:
        raise NotFound(f"no stream at {path}")
    event, outcome = c.service.ingest(stream, body)
    return (201 if outcome == "created" else 200), event


def list_events(c: Call) -> Any:
    return c.service.store.list_events(c.params["streamId"], ListParams.parse(c.query))


def list_events_by_path(c: Call) -> Any:
    path = c.query.get("path")
    if not path:
        raise Invalid("listing events needs a stream id in the URL or ?path=")
    stream = c.service.store.stream_by_path(path)
    if stream is None:
        raise NotFound(f"no stream at {path}")
    return c.service.store.list_events(stream["id"], ListParams.parse(c.query))


def get_event(c: Call) -> Any:
    return c.service.store.get_event(c.params["eventId"], c.params["streamId"])


# -- devices, actions, tasks ----------------------------------------------------------------
def _crud(kind: str) -> dict[str, Any]:
    def list_(c: Call) -> Any:
        return c.service.store.list_objects(kind, ListParams.parse(c.query))

    def create(c: Call) -> Any:
        return c.service.store.create_object(kind, c.json())

    def get(c: Call) -> Any:
        if kind == "device":
            return c.service.store.get_device(c.params["id"])
        return c.service.store.get_object(kind, c.params["id"])

    def update(c: Call) -> Any:
        obj_id = c.service.store.get_device(c.params["id"])["id"] if kind == "device" else c.params["id"]
        return c.service.store.update_object(kind, obj_id, c.json())

    def delete(c: Call) -> Any:
        return c.service.store.delete_object(kind, c.params["id"])

    def runs(c: Call) -> Any:
        c.service.store.get_object(kind, c.params["id"])
        return c.service.store.list_runs(c.params["id"], ListParams.parse(c.query, default_sort="start"))

    for fn, verb in ((list_, "list"), (create, "create"), (get, "get"), (update, "update"), (delete, "delete"), (runs, "runs")):
        fn.__name__ = f"{verb}_{kind}"
    return {"list": list_, "create": create, "get": get, "update": update, "delete": delete, "runs": runs}


# -- extensions ---------------------------------------------------------------------------
def get_clock(c: Call) -> Any:
    return {"now": c.service.clock.now_ms(), "manual": c.service.clock.manual}


def advance_clock(c: Call) -> Any:
    body = c.json()
    seconds = body.get("advance") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise Invalid("the body needs {\"advance\": <seconds, >= 0>}")
    return c.service.advance(float(seconds))


def wait_idle(c: Call) -> Any:
    try:
        timeout = float(c.query.get("timeout", "10"))
    except ValueError:
        raise Invalid("timeout must be a number of seconds") from None
    return {"idle": c.service.wait_idle(min(max(timeout, 0.0), 120.0))}


def _routes() -> list[RouteSpec]:
    base = "/v5.0/{company}"
    specs = [
        RouteSpec("GET", f"{base}/stream", list_streams, 200, "List streams"),
        RouteSpec("POST", f"{base}/stream", create_stream, 201, "Create a stream (path, description, capacity)"),
        RouteSpec("GET", f"{base}/stream/{{id}}", get_stream, 200, "Read a stream"),
        RouteSpec("PUT", f"{base}/stream/{{id}}", update_stream, 200, "Update a stream (description, capacity)"),
        RouteSpec("DELETE", f"{base}/stream/{{id}}", delete_stream, 200, "Delete a stream and its events"),
        RouteSpec("POST", f"{base}/event", create_event_by_path, 201, "Create an event in the stream at `path`"),
        RouteSpec("GET", f"{base}/event", list_events_by_path, 200, "List the events of the stream at ?path="),
        RouteSpec("POST", f"{base}/event/{{streamId}}", create_event, 201, "Create an event (elems, hash, generatedDate)"),
        RouteSpec("GET", f"{base}/event/{{streamId}}", list_events, 200, "List events (start, limit, sort, order, filter, only)"),
        RouteSpec("GET", f"{base}/event/{{streamId}}/{{eventId}}", get_event, 200, "Read an event"),
    ]
    for kind in ("device", "action", "task"):
        h = _crud(kind)
        specs += [
            RouteSpec("GET", f"{base}/{kind}", h["list"], 200, f"List {kind}s"),
            RouteSpec("POST", f"{base}/{kind}", h["create"], 201, f"Create a {kind}"),
            RouteSpec("GET", f"{base}/{kind}/{{id}}", h["get"], 200, f"Read a {kind}"),
            RouteSpec("PUT", f"{base}/{kind}/{{id}}", h["update"], 200, f"Update a {kind} (version + 1)"),
            RouteSpec("DELETE", f"{base}/{kind}/{{id}}", h["delete"], 200, f"Delete a {kind}"),
        ]
        if kind != "device":
            specs.append(RouteSpec("GET", f"{base}/{kind}/{{id}}/runs", h["runs"], 200, f"Run records of a {kind}", True))
    specs += [
        RouteSpec("GET", f"{base}/_clock", get_clock, 200, "The server clock (ms) and whether it is manual", True),
        RouteSpec("POST", f"{base}/_clock", advance_clock, 200, "Advance the manual clock and run the due tasks", True),
        RouteSpec("GET", f"{base}/_idle", wait_idle, 200, "Wait until no action or task run is queued or running", True),
    ]
    return specs


ROUTES = _routes()
