"""A real loopback HTTP server that records requests and answers by path: /status/<code>,
/sleep/<seconds> (answers late), /trickle/<bytes> (sends its body one byte every 0.1 s)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                sink.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers.items()), "body": body})
                parts = self.path.strip("/").split("/")
                status = int(parts[1]) if parts[0] == "status" and len(parts) > 1 else 200
                if parts[0] == "sleep":
                    time.sleep(float(parts[1]))
                if parts[0] == "trickle":
                    self._trickle(int(parts[1]))
                    return
                data = json.dumps({"ok": status < 400, "id": len(sink.requests)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Request-Count", str(len(sink.requests)))
                if status in (202, 503):
                    self.send_header("Retry-After", "30")
                if 300 <= status < 400:
                    self.send_header("Location", "/status/200/redirected")
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def _trickle(self, n):
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                try:
                    for _ in range(n):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass  # the client gave up

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
