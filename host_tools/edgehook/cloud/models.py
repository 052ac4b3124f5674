"""Validation rules of the cloud's objects (streams, events, actions, tasks, devices)."""

from __future__ import annotations

import re
from typing import Any

from edgehook.cloud import es5
from edgehook.cloud.errors import Invalid
from edgehook.cloud.filters import parse_filter

DEFAULT_CAPACITY = 1000
MAX_CAPACITY = 100000
_PATH_PART = re.compile(r"^[A-Za-z0-9_\-:.@=]+$")
_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")


def require_object(body: Any, what: str = "the request body") -> dict:
    if not isinstance(body, dict):
        raise Invalid(f"{what} must be a JSON object")
    return body


def stream_path(path: Any, company: str) -> str:
    """A stream path `/<company>/a/b`; Invalid otherwise."""
    if not isinstance(path, str) or not path.startswith(f"/{company}/"):
        raise Invalid(f"path must be a string starting with /{company}/")
    parts = path.split("/")[2:]
    if not parts or any(not p or not _PATH_PART.match(p) for p in parts):
        raise Invalid(f"bad stream path {path!r} (segments of letters, digits, _ - : . @ =)")
    return path


def capacity(value: Any) -> int:
    if value is None:
        return DEFAULT_CAPACITY
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAPACITY:
        raise Invalid(f"capacity must be an integer from 0 to {MAX_CAPACITY}")
    return value


def event_input(body: Any) -> tuple[dict, str | None, int | None]:
    """(elems, hash, generatedDate) of an event create body."""
    body = require_object(body)
    elems = body.get("elems")
    if not isinstance(elems, dict):
        raise Invalid("an event needs `elems` with Object type")
    hash_ = body.get("hash")
    if hash_ is not None and not isinstance(hash_, str):
        raise Invalid("hash must be a string")
    gen = body.get("generatedDate")
    if gen is not None and (isinstance(gen, bool) or not isinstance(gen, (int, float))):
        raise Invalid("generatedDate must be a number of milliseconds")
    return elems, hash_, (int(gen) if gen is not None else None)


def device_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid("a device needs a `name` of 1-64 letters, digits, _ - .")
    return name


def _text(obj: dict, key: str, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(f"`{key}` must be a {'non-empty ' if required else ''}string")
    return value


def _bool(obj: dict, key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise Invalid(f"`{key}` must be true or false")
    return value


def action_fields(obj: dict) -> dict:
    """The writable fields of a Cloud Action, checked (source, ES5.1 js, filter)."""
    source = _text(obj, "source", required=True) or ""
    if not source.startswith(("/", "@")):
        raise Invalid("source must start with / (a stream path) or @ (a tag source)")
    js = _text(obj, "js", required=True) or ""
    es5.check_function(js, arity=1, what="js")
    filt = _text(obj, "filter")
    parse_filter(filt)
    return {
        "description": _text(obj, "description") or "",
        "source": source,
        "js": js,
        "filter": filt,
        "destination": _text(obj, "destination"),
        "disabled": _bool(obj, "disabled"),
    }


def task_fields(obj: dict) -> dict:
    """The writable fields of a Task: js (a function of no argument), period in seconds."""
    js = _text(obj, "js", required=True) or ""
    es5.check_function(js, arity=None, what="js")
    period = obj.get("period")
    if isinstance(period, bool) or not isinstance(period, (int, float)) or period < 1:
        raise Invalid("a task needs `period` in seconds, at least 1")
    return {
        "description": _text(obj, "description") or "",
        "js": js,
        "period": period,
        "disabled": _bool(obj, "disabled"),
    }
