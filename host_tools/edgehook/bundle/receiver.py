"""A loopback webhook receiver: answers from a script, records every request, checks signatures.

Used by `edgehook demo` (a realistic mix of answers) and by the tests (scripted answers). It is a
real HTTP server (the standard library's threading server) on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the receiver answers: status, headers, body, and an optional delay before answering."""

    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0


@dataclass
class Received:
    """One request as it arrived (header names lowercased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: str
    at: float
    verified: bool | None = None
    answered: int | None = None  # the status the receiver answered with

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("webhook-id")

    def json(self) -> dict:
        return json.loads(self.body)


Script = Callable[[Received], Reply]


def verify_signature(secret: str, headers: dict[str, str], body: str) -> bool:
    """Standard Webhooks v1 check of one request (no timestamp tolerance)."""
    key = base64.b64decode(secret[6:] if secret.startswith("whsec_") else secret)
    content = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.{body}".encode()
    want = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(want, s) for s in sigs)


class WebhookReceiver:
    """Start with `with WebhookReceiver(script) as rx:`; `rx.url` is the endpoint to configure."""

    def __init__(self, script: Script | None = None, secret: str | None = None, path: str = "/hook") -> None:
        self.script: Script = script or (lambda req: Reply(201))
        self.secret = secret
        self.path = path
        self.requests: list[Received] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        assert self._server is not None, "receiver not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return self.base + self.path

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # no stderr noise
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                req = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                if receiver.secret and req.webhook_id:
                    req.verified = verify_signature(receiver.secret, req.headers, body)
                receiver._record(req)
                try:
                    reply = receiver.script(req)
                except Exception as exc:  # a broken script answers 500 instead of hanging the client
                    reply = Reply(500, body=f"receiver script failed: {exc}")
                req.answered = reply.status
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

            do_POST = do_GET = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, req: Received) -> None:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()

    def posts(self) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if r.method == "POST"]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float) -> bool:
        """Wait until `predicate(requests)` holds; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self.requests)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True
