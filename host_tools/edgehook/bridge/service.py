"""The bridge service: wires link, ORP session, resource table, outbox, uploader and command poller.

Threads: one serial loop (read → deframe → session → answers; SYNC and the no-data watchdog),
`concurrency` upload workers, one command poller. `snapshot()` is what a status view shows.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgehook.bridge.commands import CommandPoller
from edgehook.bridge.link import LinkLost, SerialLink
from edgehook.bridge.outbox import Outbox
from edgehook.bridge.resources import ResourceTable
from edgehook.bridge.session import SYNC_INTERVAL, EdgeSession
from edgehook.bridge.uploader import StreamMap, Uploader
from edgehook.errors import UsageError
from edgehook.octave.client import OctaveClient
from edgehook.octave.credentials import Credentials
from edgehook.orp import Deframer

log = logging.getLogger(__name__)


@dataclass
class BridgeConfig:
    """Everything `edgehook bridge` takes; the cloud part is optional (no cloud = outbox only)."""

    port: str
    device: str
    outbox: Path
    baud: int = 115200
    cloud_url: str | None = None
    company: str | None = None
    credentials: Credentials | None = None
    concurrency: int = 4
    max_records: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    policy: str = "reject-new"
    ttl: float | None = None
    stream_map: dict[str, str] = field(default_factory=dict)
    elems_prefix: str = ""
    silence: float = 15.0
    sync_interval: float = SYNC_INTERVAL
    command_interval: float = 2.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    http_timeout: float = 15.0


class Bridge:
    """A running bridge; `start()` then `stop()`, or `run(stop_event)`."""

    def __init__(self, config: BridgeConfig, on_event: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.events: deque[str] = deque(maxlen=50)
        self._on_event = on_event
        self.stop_event = threading.Event()
        self._lock_fd = _lock_outbox(Path(config.outbox))
        try:
            self.outbox = Outbox(config.outbox, max_records=config.max_records,
                                 max_bytes=config.max_bytes, policy=config.policy, ttl=config.ttl)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.table = ResourceTable()
        self.link = SerialLink(config.port, config.baud, on_event=self._event)
        self.deframer = Deframer()
        self.session = EdgeSession(config.device, self.table, self.outbox, self.link.write,
                                   sync_interval=config.sync_interval)
        self.uploader: Uploader | None = None
        self.commands: CommandPoller | None = None
        self.started = time.time()
        self.reopens = 0
        self._silent = False  # reported a silent link; said again only after frames came back
        self._threads: list[threading.Thread] = []
        if config.cloud_url:
            self._wire_cloud()

    def _wire_cloud(self) -> None:
        cfg = self.config
        if not cfg.company or cfg.credentials is None:
            raise ValueError("a cloud URL needs a company and credentials")
        self.uploader = Uploader(
            self.outbox, self.make_client, StreamMap(cfg.company, cfg.device, cfg.stream_map),
            concurrency=cfg.concurrency, backoff_base=cfg.backoff_base,
            backoff_max=cfg.backoff_max, elems_prefix=cfg.elems_prefix, on_event=self._event)
        self.commands = CommandPoller(
            self.outbox, self.make_client, cfg.company, cfg.device,
            deliver=self.session.call_handler, resolve=self._resolve_output,
            ready=lambda: self.session.synced and len(self.table) > 0,
            interval=cfg.command_interval, on_event=self._event)

    def make_client(self) -> OctaveClient:
        cfg = self.config
        assert cfg.cloud_url and cfg.company and cfg.credentials
        return OctaveClient(cfg.cloud_url, cfg.company, cfg.credentials.user,
                            cfg.credentials.token, timeout=cfg.http_timeout)

    def _resolve_output(self, path: str) -> str | None:
        for candidate in (path, f"{path}/value"):
            res = self.table.get(candidate)
            if res is not None and res.kind == "output":
                return candidate
        return None

    def _event(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {text}")
        log.info("%s", text)
        if self._on_event:
            self._on_event(text)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._spawn(self._serial_loop, "serial")
        if self.uploader:
            self.uploader.start(self.stop_event)
        if self.commands:
            self._spawn(lambda: self.commands.run(self.stop_event) if self.commands else None,
                        "commands")

    def _spawn(self, target: Callable[[], Any], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.uploader:
            self.uploader.join(timeout)
        for t in self._threads:
            t.join(timeout)
        self.link.close()
        self.outbox.close()
        os.close(self._lock_fd)  # releases the outbox lock

    def __enter__(self) -> Bridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the serial side ----------------------------------------------------------------------
    def _serial_loop(self) -> None:
        stop = self.stop_event
        while not stop.is_set():
            try:
                if not self.link.open_wait(stop):
                    break
                self.deframer = Deframer()
                self.session.link_lost()  # a fresh port: SYNC first
                self._pump(stop)
            except Exception as exc:  # a bug must not leave a bridge that looks alive but is deaf
                log.exception("serial loop failed")
                self._event(f"serial loop failed ({exc.__class__.__name__}: {exc}); reopening")
                self.link.close("reopening")
                stop.wait(1.0)

    def _pump(self, stop: threading.Event) -> None:
        """Serve one open port until it is lost, silent for too long, or the bridge stops."""
        silence = self.config.silence
        quiet_since = time.monotonic()
        resynced = False
        while not stop.is_set():
            try:
                chunk = self.link.read()
            except LinkLost as exc:
                self._event(f"link lost: {exc}; reconnecting")
                self.session.link_lost()
                self.link.close("waiting")
                return
            if chunk:
                payloads = self.deframer.feed(chunk)
                if payloads:
                    quiet_since, resynced = time.monotonic(), False
                    if self._silent:
                        self._silent = False
                        self._event("frames again")
                    self.session.feed(payloads)
                    if self.uploader:
                        self.uploader.wake()
            self.session.tick()
            quiet = time.monotonic() - quiet_since
            if silence and quiet >= silence and not resynced:
                self._quiet_note(f"no frame for {silence:g} s: SYNC again")
                self.session.resync()
                resynced = True
            elif silence and quiet >= 2 * silence:
                self._quiet_note(f"still no frame: reopening {self.link.port}")
                self._silent = True
                self.session.link_lost()
                self.link.close("reopening")
                self.reopens += 1
                return

    def _quiet_note(self, text: str) -> None:
        # a board that is off would repeat these every few seconds: say them once per silence
        if self._silent:
            log.debug("%s", text)
        else:
            self._event(text)

    # -- what a person sees -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A point-in-time view for the live table and the plain log lines."""
        up = self.uploader
        out: dict[str, Any] = {
            "port": self.config.port,
            "device": self.config.device,
            "link": self.link.state,
            "synced": self.session.synced,
            "peer_version": self.session.peer_version,
            "session": self.session.stats.as_dict(),
            "decoder": self.deframer.stats.as_dict(),
            "resources": [
                {"path": r.path, "kind": r.kind, "dtype": r.dtype, "units": r.units,
                 "value": r.value, "timestamp": r.timestamp, "pushes": r.pushes,
                 "handler": r.handler}
                for r in self.table.snapshot()
            ],
            "outbox": self.outbox.status(),
            "cloud": up.cloud_state if up else "off",
            "upload_rate": up.rate() if up else 0.0,
            "commands_handled": self.commands.handled if self.commands else 0,
            "errors": self._errors(),
            "events": list(self.events)[-10:],
        }
        return out

    def _errors(self) -> list[str]:
        errs = list(self.session.errors)
        if self.uploader:
            errs += list(self.uploader.errors)
        if self.commands:
            errs += list(self.commands.errors)
        return sorted(errs)[-8:]


def _lock_outbox(path: Path) -> int:
    """Hold `<outbox>.lock` for the bridge's life: two bridges on one outbox would upload twice."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot create the outbox {path}: {exc.strerror or exc}",
                         hint="pass an --outbox in a folder you can write") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UsageError(f"another bridge is using the outbox {path}",
                         hint="stop it, or give this bridge its own --outbox") from None
    return fd
