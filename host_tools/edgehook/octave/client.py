"""A small client for the Octave REST API v5.0: envelope parsing, errors, and common calls."""

from __future__ import annotations

import email.utils
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from edgehook.errors import RemoteError

log = logging.getLogger(__name__)

OBJECT_KINDS = ("action", "task", "stream", "device")
DEFAULT_URL = "http://127.0.0.1:8765/v5.0"
DEFAULT_COMPANY = "demo"


@dataclass
class OctaveResponse:
    """One REST answer: HTTP status, the envelope's body and errors, headers, Retry-After (s)."""

    status: int
    body: Any = None
    errors: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def message(self) -> str:
        return "; ".join(self.errors) or f"HTTP {self.status}"


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _remote_error(message: str, retryable: bool, hint: str | None = None) -> RemoteError:
    err = RemoteError(message, hint=hint)
    err.retryable = retryable  # type: ignore[attr-defined]
    return err


def new_session() -> requests.Session:
    """A session that retries what is safe to retry at once: a refused connection (nothing was
    sent), and an idempotent request whose kept-alive connection the server had just closed (the
    race between a client reusing a connection and a server's keep-alive timeout)."""
    retry = Retry(total=2, connect=2, read=1, status=0, other=0, redirect=0, backoff_factor=0.1,
                  allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}),
                  raise_on_status=False, respect_retry_after_header=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class OctaveClient:
    """Requests against `<base_url>/<company>/...` with X-Auth-User / X-Auth-Token."""

    def __init__(
        self,
        base_url: str,
        company: str,
        user: str,
        token: str,
        timeout: float = 15.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.company = company
        self.timeout = timeout
        self.session = session or new_session()
        self.session.headers.update({"X-Auth-User": user, "X-Auth-Token": token})

    @classmethod
    def from_env(cls, base_url: str | None = None, company: str | None = None, **kw: Any) -> OctaveClient:
        """A client from EDGEHOOK_CLOUD_URL, EDGEHOOK_COMPANY and resolve_credentials()."""
        from edgehook.octave.credentials import resolve_credentials

        creds = resolve_credentials()
        return cls(
            base_url or os.environ.get("EDGEHOOK_CLOUD_URL") or DEFAULT_URL,
            company or os.environ.get("EDGEHOOK_COMPANY") or DEFAULT_COMPANY,
            creds.user,
            creds.token,
            **kw,
        )

    # -- the one primitive -------------------------------------------------------------
    def request(
        self, method: str, path: str, params: dict | None = None, json: Any = None
    ) -> OctaveResponse:
        """Send one request; never raises on an HTTP status, RemoteError(retryable) on network."""
        url = f"{self.base_url}/{self.company}/{path.lstrip('/')}"
        try:
            resp = self.session.request(method, url, params=params, json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _remote_error(
                f"{method} {url} failed: {exc.__class__.__name__}",
                retryable=True,
                hint="is the cloud reachable? (EDGEHOOK_CLOUD_URL)",
            ) from exc
        body: Any = None
        errors: list[str] = []
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and "head" in data:
            body = data.get("body")
            head = data.get("head") or {}
            errors = [str(e) for e in head.get("errors") or []]
        else:
            body = data if data is not None else resp.text
            if not resp.ok:
                errors = [f"HTTP {resp.status_code}: {resp.text[:200]}"]
        return OctaveResponse(
            status=resp.status_code,
            body=body,
            errors=errors,
            headers={k.lower(): v for k, v in resp.headers.items()},
            retry_after=_retry_after(resp.headers.get("Retry-After")),
        )

    def _call(self, method: str, path: str, params: dict | None = None, json: Any = None) -> Any:
        resp = self.request(method, path, params=params, json=json)
        if not resp.ok:
            retryable = resp.status >= 500 or resp.status == 429
            hint = "check EDGEHOOK_USER / EDGEHOOK_TOKEN" if resp.status in (401, 403) else None
            raise _remote_error(f"{method} {path}: {resp.message()}", retryable, hint)
        return resp.body

    # -- streams -------------------------------------------------------------------------
    def find_stream(self, path: str) -> dict | None:
        """The stream at `path`, or None."""
        quoted = path.replace("\\", "\\\\").replace('"', '\\"')
        found = self._call("GET", "/stream", params={"filter": f'path=="{quoted}"', "limit": 1})
        return found[0] if found else None

    def create_stream(self, path: str, description: str = "", capacity: int | None = None) -> dict:
        obj: dict[str, Any] = {"path": path, "description": description}
        if capacity is not None:
            obj["capacity"] = capacity
        return self._call("POST", "/stream", json=obj)

    def ensure_stream(self, path: str, **kw: Any) -> dict:
        """The stream at `path`, created (with missing parents' absence tolerated) if needed."""
        return self.find_stream(path) or self.create_stream(path, **kw)

    # -- events --------------------------------------------------------------------------
    def create_event(
        self,
        stream_id: str,
        elems: dict,
        hash: str | None = None,
        generated_date: int | None = None,
    ) -> dict:
        """POST an event; `generated_date` (ms) is the local cloud's documented extension."""
        obj: dict[str, Any] = {"elems": elems}
        if hash is not None:
            obj["hash"] = hash
        if generated_date is not None:
            obj["generatedDate"] = int(generated_date)
        return self._call("POST", f"/event/{stream_id}", json=obj)

    def list_events(
        self, stream_id: str | None = None, path: str | None = None, **params: Any
    ) -> list[dict]:
        """Events of a stream by id or by path; params: start, limit, sort, order, filter, only."""
        if stream_id:
            return self._call("GET", f"/event/{stream_id}", params=params)
        if path:
            return self._call("GET", "/event", params={"path": path, **params})
        raise ValueError("list_events needs stream_id or path")

    # -- devices -------------------------------------------------------------------------
    def create_device(self, name: str) -> dict:
        return self._call("POST", "/device", json={"name": name})

    def get_device(self, name_or_id: str) -> dict | None:
        resp = self.request("GET", f"/device/{name_or_id}")
        if resp.status == 404:
            return None
        if not resp.ok:
            raise _remote_error(f"GET device {name_or_id}: {resp.message()}", resp.status >= 500)
        return resp.body

    # -- generic objects (action, task, stream, device) ----------------------------------
    def list_objects(self, kind: str, **params: Any) -> list[dict]:
        return self._call("GET", f"/{_kind(kind)}", params=params or None)

    def get_object(self, kind: str, id: str) -> dict:
        return self._call("GET", f"/{_kind(kind)}/{id}")

    def create_object(self, kind: str, obj: dict) -> dict:
        return self._call("POST", f"/{_kind(kind)}", json=obj)

    def update_object(self, kind: str, id: str, obj: dict) -> dict:
        return self._call("PUT", f"/{_kind(kind)}/{id}", json=obj)

    def delete_object(self, kind: str, id: str) -> dict:
        return self._call("DELETE", f"/{_kind(kind)}/{id}")


def _kind(kind: str) -> str:
    if kind not in OBJECT_KINDS:
        raise ValueError(f"unknown object kind {kind!r} (one of {', '.join(OBJECT_KINDS)})")
    return kind
