"""A worker process that runs Cloud Actions and Tasks in QuickJS (`python -m edgehook.cloud.worker`).

It speaks JSON lines on stdin/stdout with the server (runtime.py): a `run` request; one-way
`log` and `http` records while running; `call` requests answered by `reply` (Octave.Event /
Stream lookups, served by the server's store); and a final `done`. The server enforces the
wall-clock limit by killing this process; QuickJS's memory and stack limits apply inside.
Each Octave.Http call ends a margin before that deadline (`call_timeout`), so a script whose
endpoint hangs gets an Octave.Error in time to handle it instead of being killed.
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
import urllib3

PRELUDE = resources.files("edgehook.cloud").joinpath("prelude.js").read_text()
MAX_CONSOLE = 64 * 1024
MAX_CONTENT = 4 * 1024 * 1024
MIN_MARGIN_S = 0.5  # time kept back at the end of a run for the script to handle a failed call
MARGIN_SHARE = 0.1  # ... or this share of the run limit, if larger
MIN_CALL_S = 0.05  # a call with less time than this is not started


def call_timeout(requested: float | None, default: float, time_limit: float, remaining: float) -> float:
    """Seconds one HTTP call may take: the script's timeout, at most the default (--http-timeout)
    and the run limit, ending a margin before the run's deadline; 0 when no time is left for it."""
    wanted = min(default if requested is None else min(requested, default), time_limit)
    cap = min(wanted, remaining - max(MIN_MARGIN_S, MARGIN_SHARE * time_limit))
    return cap if cap >= MIN_CALL_S else 0.0


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
        self.time_limit = float(msg["time_limit"])
        self.deadline = time.monotonic() + self.time_limit
        if msg.get("deadline") is not None:  # the server's own deadline (a monotonic time, as here)
            self.deadline = min(self.deadline, float(msg["deadline"]))
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
        timeout = call_timeout(req.get("timeout"), self.http_timeout, self.time_limit, remaining)
        headers = {str(k): str(v) for k, v in (req.get("headers") or {}).items()}
        body = req.get("body")
        t0 = time.monotonic()
        record: dict[str, Any] = {"method": method, "url": url, "timeout_s": round(timeout, 3)}
        try:
            if timeout <= 0:
                record.update(status=None, latency_ms=0.0, error="NotStarted")
                raise OctaveError(
                    f"HTTP {method} {url} not started: timeout, only {max(remaining, 0):.2f} s "
                    f"left of the run's {self.time_limit:g} s limit",
                    ["the run keeps a margin at its end for the script to handle failed calls"])
            resp = self.session.request(
                method, url, headers=headers, data=body.encode() if body is not None else None,
                timeout=timeout, allow_redirects=False, stream=True,
            )
            with resp:  # requests has read a redirect's body already (it is not followed)
                raw = resp.content[:MAX_CONTENT] if resp.is_redirect else _read_body(resp, t0 + timeout)
            content = raw.decode(resp.encoding or "utf-8", errors="replace")
            record.update(status=resp.status_code, latency_ms=_ms(t0))
            return {
                "status": resp.status_code,
                "headers": {k.lower(): v for k, v in resp.headers.items()},
                "content": content,
            }
        except (requests.RequestException, CallTimeout) as exc:
            name = _failure_name(exc)
            record.update(status=None, latency_ms=_ms(t0), error=name)
            what = f"timeout after {timeout:.3g} s ({name})" if "Timeout" in name else name
            raise OctaveError(f"HTTP {method} {url} failed: {what}", [str(exc)[:500]]) from None
        finally:
            self.send({"op": "http", "record": record})


class CallTimeout(Exception):
    """The response body was still arriving when the call's time was up."""


def _read_body(resp: requests.Response, deadline: float) -> bytes:
    """The body (at most MAX_CONTENT bytes), read as it arrives so that a server trickling it
    cannot hold the call past its deadline."""
    chunks, size = [], 0
    try:
        while size < MAX_CONTENT:
            chunk = resp.raw.read1(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise CallTimeout(f"the body was still arriving after {size} bytes")
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise CallTimeout(f"the body stopped arriving after {size} bytes: {exc}") from None
    except urllib3.exceptions.HTTPError as exc:
        raise requests.ConnectionError(exc) from None
    return b"".join(chunks)[:MAX_CONTENT]


def _failure_name(exc: Exception) -> str:
    """ReadTimeout / ConnectTimeout / ConnectionError ... (the body's timeouts: ReadTimeout)."""
    return "ReadTimeout" if isinstance(exc, CallTimeout) else type(exc).__name__


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
