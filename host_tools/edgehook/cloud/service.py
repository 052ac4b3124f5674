"""The cloud as one object: store, runner and scheduler, and the operations handlers call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgehook.cloud import models
from edgehook.cloud.clock import Clock
from edgehook.cloud.runner import Limits, Runner
from edgehook.cloud.scheduler import Scheduler
from edgehook.cloud.store import Store
from edgehook.octave.credentials import Credentials


class Cloud:
    def __init__(
        self,
        db: str | Path,
        company: str,
        creds: Credentials,
        clock: Clock | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.company = company
        self.creds = creds
        self.clock = clock or Clock()
        self.store = Store(db, company, self.clock)
        self.limits = limits or Limits()
        self.runner = Runner(self.store, self.limits)
        self.scheduler = Scheduler(self.store, self.runner)

    def start(self) -> None:
        self.runner.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.runner.stop()
        self.store.close()

    def ingest(self, stream: dict, body: Any) -> tuple[dict, str]:
        """A REST event create: store it (a known hash returns the stored event) and queue runs."""
        elems, hash_, generated = models.event_input(body)
        tags = self.store.tags_for_path(stream["path"])
        event, outcome = self.store.create_event(stream, elems, hash_, generated, tags=tags)
        if outcome == "created":
            self.runner.on_event(event)
        return event, outcome

    def advance(self, seconds: float) -> dict:
        return self.scheduler.advance(seconds)

    def wait_idle(self, timeout: float) -> bool:
        return self.runner.wait_idle(timeout)
