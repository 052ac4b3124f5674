"""Cloud commands down to the asset: poll the device's `:command` stream, deliver handler calls.

A command event's `elems` name output resources the way uploads nest paths:
`{"env": {"temp": {"period": 5}}}` or flat `{"env/temp/period": 5}` both set `env/temp/period`
(and `{"led": true}` sets `led/value` when `led` itself is not a resource). Unknown paths are
reported and skipped. The last event handled is remembered in the outbox file, so a restart
neither repeats nor loses a command.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edgehook.bridge.outbox import Outbox
from edgehook.errors import RemoteError
from edgehook.octave.client import OctaveClient
from edgehook.orp import Status

log = logging.getLogger(__name__)

STATE_KEY = "command_cursor"
PAGE = 50


def command_targets(elems: Any, resolve: Callable[[str], str | None]) -> tuple[list[tuple[str, Any]], list[str]]:
    """(output path, value) pairs named by a command's elems, and the paths that match nothing."""
    found: list[tuple[str, Any]] = []
    unknown: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        target = resolve(prefix) if prefix else None
        if target is not None:
            found.append((target, node))
        elif isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}/{key}".strip("/"))
        else:
            unknown.append(prefix or "<empty>")

    walk(elems, "")
    return found, unknown


class CommandPoller:
    """Polls `/<co>/devices/<device>/:command` and turns new events into handler calls."""

    def __init__(
        self,
        outbox: Outbox,
        make_client: Callable[[], OctaveClient],
        company: str,
        device: str,
        deliver: Callable[[str, Any], Status],
        resolve: Callable[[str], str | None],
        ready: Callable[[], bool] = lambda: True,
        interval: float = 2.0,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.make_client = make_client
        self.path = f"/{company}/devices/{device}/:command"
        self.deliver = deliver
        self.resolve = resolve
        self.ready = ready
        self.interval = interval
        self.on_event = on_event or (lambda text: None)
        self.handled = 0
        self.unknown = 0
        self.errors: list[str] = []
        self.based = threading.Event()  # set once a cursor exists (tests wait for it)
        self._client: OctaveClient | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.based.is_set():
                    self.baseline()
                elif self.ready():
                    self.poll_once()
            except RemoteError as exc:
                self._report(f"command poll: {exc.message}")
            except Exception as exc:  # never let a bad event stop the bridge
                log.exception("command poll failed")
                self._report(f"command poll: {exc.__class__.__name__}: {exc}")
            stop.wait(self.interval)

    def client(self) -> OctaveClient:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def baseline(self) -> None:
        """The first run ever: commands already in the stream are old (Octave's are temporary).

        Taken from the stream itself, so the host's and the cloud's clocks never meet."""
        if not isinstance(self.outbox.get_state(STATE_KEY), dict):
            resp = self.client().request("GET", "/event", params={
                "path": self.path, "sort": "creationDate", "order": "desc", "limit": 1})
            if resp.status != 404 and not resp.ok:
                raise RemoteError(f"GET {self.path}: {resp.message()}")
            newest = resp.body[0] if resp.ok and isinstance(resp.body, list) and resp.body else None
            cursor = {"date": int(newest.get("creationDate") or 0), "ids": [newest.get("id")]} \
                if newest else {"date": 0, "ids": []}
            self.outbox.set_state(STATE_KEY, cursor)
        self.based.set()

    def poll_once(self) -> int:
        """Handle the new command events; how many were handled."""
        cursor = self.outbox.get_state(STATE_KEY)
        new = self._new_events(self.client(), cursor)
        for event in new:
            self._handle(event)
            date = int(event.get("creationDate") or 0)
            if date > cursor["date"]:
                cursor = {"date": date, "ids": []}
            cursor["ids"].append(event.get("id"))
            self.outbox.set_state(STATE_KEY, cursor)
        return len(new)

    def _new_events(self, client: OctaveClient, cursor: dict[str, Any]) -> list[dict]:
        seen = set(cursor["ids"])
        new: list[dict] = []
        start = 0
        while True:
            resp = client.request("GET", "/event", params={
                "path": self.path, "sort": "creationDate", "order": "desc",
                "start": start, "limit": PAGE})
            if resp.status == 404:
                return []
            if not resp.ok:
                raise RemoteError(f"GET {self.path}: {resp.message()}")
            page = resp.body if isinstance(resp.body, list) else []
            fresh = [e for e in page if self._is_new(e, cursor["date"], seen)]
            new.extend(fresh)
            if len(page) < PAGE or len(fresh) < len(page):
                break
            start += PAGE
        new.sort(key=lambda e: (int(e.get("creationDate") or 0), str(e.get("id"))))
        return new

    @staticmethod
    def _is_new(event: dict, date: int, seen: set) -> bool:
        created = int(event.get("creationDate") or 0)
        return created > date or (created == date and event.get("id") not in seen)

    def _handle(self, event: dict) -> None:
        targets, unknown = command_targets(event.get("elems"), self.resolve)
        for path in unknown:
            self.unknown += 1
            self._report(f"command {event.get('id')}: no output resource {path!r}")
        for path, value in targets:
            status = self.deliver(path, value)
            self.handled += 1
            if status is Status.OK:
                self.on_event(f"command {event.get('id')}: {path} = {value!r}")
            else:
                self._report(f"command {event.get('id')}: {path} = {value!r}: {status.name}")

    def _report(self, text: str) -> None:
        self.errors.append(f"{time.strftime('%H:%M:%S')} {text}")
        del self.errors[:-20]
        log.warning("%s", text)
