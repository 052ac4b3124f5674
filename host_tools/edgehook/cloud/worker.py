"""A worker process that runs Cloud Actions and Tasks in QuickJS (`python -m edgehook.cloud.worker`).

It speaks JSON lines on stdin/stdout with the server (runtime.py): a `run` request; one-way
`log` and `http` records while running; `call` requests answered by `reply` (Octave.Event /
Stream lookups, served by the server's store); and a final `done`. The server enforces the
wall-clock limit by killing this process; QuickJS's memory and stack limits apply inside.
"""

from __future__ import annotations

import json
import os
import sys
import time
from importlib import resources
from typing import IO, Any

import quickjs
import requests

PRELUDE = resources.files("edgehook.cloud").joinpath("prelude.js").read_text()
MAX_CONSOLE = 64 * 1024
MAX_CONTENT = 4 * 1024 * 1024


class Worker:
    def __init__(self, inp: IO[str], out: IO[str]) -> None:
        self.inp, self.out = inp, out
        self.session = requests.Session()

    def send(self, msg: dict) -> None:
        self.out.write(json.dumps(msg) + "\n")
        self.out.flush()

    def serve(self) -> None:
        for line in self.inp:
            msg = json.loads(line)
            if msg.get("op") == "run":
                self.send(self.run(msg))

    # -- one run ---------------------------------------------------------------------------
    def run(self, msg: dict) -> dict:
        self.deadline = time.monotonic() + float(msg["time_limit"])
        self.http_timeout = float(msg["http_timeout"])
        self.console_used = 0
        ctx = quickjs.Context()
        ctx.set_memory_limit(int(msg["memory_limit"]))
        ctx.set_max_stack_size(int(msg["stack_limit"]))
        ctx.add_callable("__host", self.host)
        try:
            ctx.eval(f"var __now = {int(msg['now_ms'])}, __frozen = {json.dumps(bool(msg['frozen']))};")
            ctx.eval(f"var __device = {json.dumps(msg.get('device'))};")
            ctx.eval(PRELUDE)
            ctx.eval('"use strict";\nvar __fn = (' + msg["js"] + "\n);")
            arg = json.dumps(json.dumps(msg["input"])) if msg.get("input") is not None else "null"
            reply = json.loads(ctx.eval(f"__run({arg})"))
        except quickjs.JSException as exc:
            reply = {"ok": False, "error": {"name": "InternalError", "message": _js_message(exc), "details": []}}
        except Exception as exc:  # e.g. the engine refusing a value; never lose the run
            reply = {"ok": False, "error": {"name": type(exc).__name__, "message": str(exc), "details": []}}
        reply["op"] = "done"
        reply["memory"] = ctx.memory().get("memory_used_size")
        return reply

    def host(self, name: str, args_json: str) -> str:
        """The one Python callback; returns JSON text and never raises (quickjs needs that)."""
        try:
            args = json.loads(args_json)
            if name == "log":
                return self._log(args)
            if name == "http":
                return json.dumps({"ok": True, "result": self._http(args)})
            if name == "store":
                self.send({"op": "call", "name": args["name"], "args": args["args"]})
                reply = json.loads(self.inp.readline())
                return json.dumps({k: reply.get(k) for k in ("ok", "result", "error")})
            return _error(f"unknown host call {name}")
        except OctaveError as exc:
            return _error(exc.message, exc.details)
        except Exception as exc:
            return _error(f"{type(exc).__name__}: {exc}")

    def _log(self, text: str) -> str:
        if self.console_used < MAX_CONSOLE:
            text = text[: MAX_CONSOLE - self.console_used]
            self.console_used += len(text)
            self.send({"op": "log", "text": text})
        return json.dumps({"ok": True, "result": None})

    def _http(self, req: dict) -> dict:
        method, url = req["method"], req["url"]
        remaining = self.deadline - time.monotonic()
        timeout = max(0.05, min(self.http_timeout, remaining))
        headers = {str(k): str(v) for k, v in (req.get("headers") or {}).items()}
        body = req.get("body")
        t0 = time.monotonic()
        record: dict[str, Any] = {"method": method, "url": url}
        try:
            resp = self.session.request(
                method, url, headers=headers, data=body.encode() if body is not None else None,
                timeout=timeout, allow_redirects=False,
            )
            content = resp.content[:MAX_CONTENT].decode(resp.encoding or "utf-8", errors="replace")
            record.update(status=resp.status_code, latency_ms=_ms(t0))
            return {
                "status": resp.status_code,
                "headers": {k.lower(): v for k, v in resp.headers.items()},
                "content": content,
            }
        except requests.RequestException as exc:
            record.update(status=None, latency_ms=_ms(t0), error=type(exc).__name__)
            raise OctaveError(f"HTTP {method} {url} failed: {type(exc).__name__}", [str(exc)[:500]]) from None
        finally:
            self.send({"op": "http", "record": record})


class OctaveError(Exception):
    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message, self.details = message, details or []


def _error(message: str, details: list[str] | None = None) -> str:
    return json.dumps({"ok": False, "error": {"message": message, "details": details or []}})


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 3)


def _js_message(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text.splitlines()[0] if text else type(exc).__name__


def main() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # nothing but the protocol goes to the server
    Worker(sys.stdin, out).serve()


if __name__ == "__main__":
    main()
