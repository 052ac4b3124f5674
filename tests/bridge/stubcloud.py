"""A real HTTP server on 127.0.0.1 that answers Octave-shaped envelopes from a script of statuses."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubCloud:
    """Streams and devices always exist; each event POST takes the next (status, headers) scripted."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.posts: list[tuple[float, dict]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
                data = json.dumps({"head": {"status": status, "ok": status < 300, "messages": [],
                                            "errors": [] if status < 300 else [f"scripted {status}"],
                                            "references": {}}, "body": body}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if "/stream" in self.path:
                    self._send(200, [{"id": "s1", "path": "/c/devices/d/x"}])
                elif "/device/" in self.path:
                    self._send(200, {"id": "d1", "name": "d"})
                else:
                    self._send(200, [])

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with threading.Lock():
                    status, headers = stub.script.pop(0) if stub.script else (201, {})
                stub.posts.append((time.monotonic(), {"status": status, **body}))
                self._send(status, {"id": f"e{len(stub.posts)}"} if status < 300 else None, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v5.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
