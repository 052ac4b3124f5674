"""One worker process seen from the server: start it, run a job under a wall-clock deadline,
serve its calls, and kill and replace it when a run overruns or the process dies."""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class RunTimeout(Exception):
    """The run overran its wall-clock limit; the worker was killed."""


class WorkerDied(Exception):
    """The worker process ended in the middle of a run."""


class WorkerProcess:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.buf = b""
        self.restarts = 0

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgehook.cloud.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.buf = b""

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe:
                    pipe.close()
        self.proc = None

    def run(
        self,
        job: dict,
        deadline: float,
        on_call: Callable[[str, list], dict],
        on_record: Callable[[dict], None],
    ) -> dict:
        """Send `job`, serve calls, pass log/http records on; the final `done` message."""
        self.start()
        try:
            self._write(job)
            while True:
                msg = self._read(deadline)
                op = msg.get("op")
                if op == "done":
                    return msg
                if op == "call":
                    self._write({"op": "reply", **on_call(msg.get("name", ""), msg.get("args") or [])})
                else:
                    on_record(msg)
        except RunTimeout:
            self.restarts += 1
            self.kill()
            self.start()  # replace it now, so the next run does not wait for a cold start
            raise
        except WorkerDied:
            self.restarts += 1
            self.kill()
            self.start()
            raise

    def _write(self, msg: dict) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(f"worker stdin: {exc}") from None

    def _read(self, deadline: float) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RunTimeout()
                if not sel.select(remaining):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    rc = self.proc.poll()
                    raise WorkerDied(f"the worker process ended (exit status {rc})")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg: Any = json.loads(line)
        except ValueError:
            raise WorkerDied(f"the worker sent a bad line: {line[:100]!r}") from None
        return msg
