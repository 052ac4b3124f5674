"""Uploads outbox records as Octave events: bounded concurrency, retries with backoff, failures kept.

Each record becomes `POST /<co>/event/<streamId>` with `elems` nested as its resource path (the
trailing `/value` left out), `hash` = the outbox key (a re-upload after a crash stays one event)
and `generatedDate` = the asset's timestamp in ms. Network errors, 429 and 5xx retry with
exponential backoff and jitter, honouring Retry-After, and hold every worker back meanwhile (so a
cloud that is down is not hammered once per record); 401/403 also wait (a credentials problem must
not fail every reading); any other 4xx marks the record failed with the reason.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from edgehook.bridge.outbox import Outbox, Record
from edgehook.errors import RemoteError
from edgehook.octave.client import OctaveClient

log = logging.getLogger(__name__)


def nest_elems(path: str, value: Any, prefix: str = "") -> dict[str, Any]:
    """`env/temp/value` → {"env": {"temp": value}}; other leaves keep their name."""
    parts = [p for p in (prefix.strip("/") + "/" + path).split("/") if p]
    if len(parts) > 1 and parts[-1] == "value":
        parts = parts[:-1]
    out: Any = value
    for part in reversed(parts):
        out = {part: out}
    return out


class StreamMap:
    """Which device stream a resource's events go to: by first path segment, overridable."""

    def __init__(self, company: str, device: str, overrides: dict[str, str] | None = None) -> None:
        self.company = company
        self.device = device
        self.overrides = dict(overrides or {})

    def stream_for(self, path: str) -> str:
        first = path.split("/", 1)[0]
        target = self.overrides.get(first, first)
        if target.startswith("/"):
            return target
        return f"/{self.company}/devices/{self.device}/{target}"


class Uploader:
    """Worker threads that drain the outbox into the cloud."""

    def __init__(
        self,
        outbox: Outbox,
        make_client: Callable[[], OctaveClient],
        streams: StreamMap,
        concurrency: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        elems_prefix: str = "",
        on_event: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.make_client = make_client
        self._local = threading.local()
        self._stream_lock = threading.Lock()
        self.streams = streams
        self.concurrency = max(1, concurrency)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.elems_prefix = elems_prefix
        self.on_event = on_event or (lambda text: None)
        self.rng = rng or random.Random()
        self.delivered_times: deque[float] = deque(maxlen=10_000)
        self.errors: deque[str] = deque(maxlen=20)
        self.cloud_state = "unknown"
        self._wake = threading.Event()
        self._hold_until = 0.0
        self._hold_failures = 0
        self._lock = threading.Lock()
        self._stream_ids: dict[str, str] = {}
        self._device_checked = False
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, stop: threading.Event) -> None:
        for i in range(self.concurrency):
            t = threading.Thread(target=self._worker, args=(stop,), name=f"upload-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def join(self, timeout: float) -> None:
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def wake(self) -> None:
        """New records were committed: look now instead of at the next poll."""
        self._wake.set()

    def rate(self, window: float = 10.0) -> float:
        """Deliveries per second over the last `window` seconds."""
        cutoff = time.time() - window
        return sum(1 for t in list(self.delivered_times) if t >= cutoff) / window

    # -- the work -----------------------------------------------------------------------------
    def _worker(self, stop: threading.Event) -> None:
        while not stop.is_set():
            hold = self._hold_until - time.time()
            if hold > 0:
                stop.wait(min(hold, 0.5))
                continue
            try:
                recs = self.outbox.claim(1)
            except Exception as exc:  # the database is unreadable: wait, report
                self._report(f"outbox read failed: {exc}")
                stop.wait(1.0)
                continue
            if not recs:
                self._wake.clear()
                self._wake.wait(0.2)
                continue
            rec = recs[0]
            if stop.is_set():
                self.outbox.release(rec.id)
                break
            try:
                self._upload(rec)
            except Exception as exc:  # e.g. the disk is full: the record stays open, say why
                log.exception("upload of %s", rec.key)
                self._report(f"upload {rec.key}: {exc.__class__.__name__}: {exc}")
                self.outbox.release(rec.id)
                stop.wait(1.0)

    def _upload(self, rec: Record) -> None:
        event = {
            "elems": nest_elems(rec.path, rec.value, self.elems_prefix),
            "hash": rec.key,
            "generatedDate": int(round(rec.timestamp * 1000)),
        }
        try:
            json.dumps(event, allow_nan=False)
        except ValueError as exc:  # no retry can send it: say so instead of retrying forever
            self._fail(rec, f"not sendable as JSON: {exc}")
            return
        try:
            stream_id = self._stream_id(self.streams.stream_for(rec.path))
            resp = self._client().request("POST", f"/event/{stream_id}", json=event)
        except RemoteError as exc:
            if getattr(exc, "retryable", True):
                self._retry(rec, exc.message, None)
            else:
                self._fail(rec, exc.message)
            return
        except Exception as exc:  # a bug or an unexpected answer: keep the record, say why
            log.exception("upload of %s failed", rec.key)
            self._retry(rec, f"{exc.__class__.__name__}: {exc}", None)
            return
        if resp.ok:
            body = resp.body if isinstance(resp.body, dict) else {}
            self.outbox.mark_delivered(rec.id, str(body.get("id") or "") or None)
            self.delivered_times.append(time.time())
            with self._lock:
                self._hold_failures = 0
            self.cloud_state = "up"
            return
        reason = f"HTTP {resp.status}: {resp.message()}"
        if resp.status == 404:  # the stream went away: find or create it again
            with self._lock:
                self._stream_ids.clear()
            self._retry(rec, reason, None)
        elif resp.status in (401, 403, 408, 429) or resp.status >= 500:
            self._retry(rec, reason, resp.retry_after)
        else:
            self._fail(rec, reason)

    def _client(self) -> OctaveClient:
        client = getattr(self._local, "client", None)
        if client is None:  # one client (one HTTP session) per worker thread
            client = self._local.client = self.make_client()
        return client

    def _stream_id(self, path: str) -> str:
        with self._lock:
            known = self._stream_ids.get(path)
        if known:
            return known
        with self._stream_lock:  # one worker finds or creates a stream, the others wait for it
            with self._lock:
                known = self._stream_ids.get(path)
            if known:
                return known
            self._ensure_device()
            stream = self._client().ensure_stream(
                path, description=f"edgehook bridge: {self.streams.device}")
            sid = str(stream["id"])
            with self._lock:
                self._stream_ids[path] = sid
            self.on_event(f"uploading {path} readings to stream {sid}")
            return sid

    def _ensure_device(self) -> None:
        if self._device_checked:
            return
        name = self.streams.device
        try:
            if self._client().get_device(name) is None:
                self._client().create_device(name)
                self.on_event(f"created device {name}")
        except RemoteError as exc:
            if getattr(exc, "retryable", False):
                raise
            # e.g. real Octave provisions devices elsewhere; the streams may still be writable
            self._report(f"could not create device {name}: {exc.message}")
        self._device_checked = True

    def _retry(self, rec: Record, reason: str, retry_after: float | None) -> None:
        with self._lock:
            self._hold_failures += 1
            exp = min(self.backoff_max, self.backoff_base * 2 ** min(self._hold_failures - 1, 20))
            delay = exp * (0.5 + 0.5 * self.rng.random())  # "equal jitter"
            if retry_after is not None:
                delay = min(max(retry_after, 0.0), self.backoff_max * 4)
            self._hold_until = max(self._hold_until, time.time() + delay)
        self.cloud_state = "retrying"
        self.outbox.mark_retry(rec.id, delay, reason)
        self._report(f"upload {rec.key} retry in {delay:.1f} s: {reason}")

    def _fail(self, rec: Record, reason: str) -> None:
        self.outbox.mark_failed(rec.id, reason)
        self._report(f"upload {rec.key} failed: {reason}")

    def _report(self, text: str) -> None:
        self.errors.append(f"{time.strftime('%H:%M:%S')} {text}")
        log.warning("%s", text)
