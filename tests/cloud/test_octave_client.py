"""The Octave REST client and credentials against a real loopback HTTP server."""

from __future__ import annotations

import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edgehook.errors import RemoteError, UsageError
from edgehook.octave import credentials as cr
from edgehook.octave.client import OctaveClient


class _Handler(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *a):  # quiet
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        _Handler.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path.startswith("/v5.0/acme/busy"):
            status, payload, extra = 503, {"head": {"status": 503, "ok": False, "errors": ["busy"]}, "body": None}, {"Retry-After": "7"}
        elif self.path.startswith("/v5.0/acme/plain"):
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"oops")
            return
        elif self.path.startswith("/v5.0/acme/device/missing"):
            status, payload, extra = 404, {"head": {"status": 404, "ok": False, "errors": ["not found"]}, "body": None}, {}
        else:
            status, payload, extra = 200, {"head": {"status": 200, "ok": True, "errors": []}, "body": [{"id": "s1"}]}, {}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v5.0"
    srv.shutdown()


def test_request_sends_auth_and_parses_envelope(server):
    c = OctaveClient(server, "acme", "u", "tok")
    r = c.request("GET", "/stream", params={"limit": 1})
    assert r.ok and r.status == 200 and r.body == [{"id": "s1"}] and r.errors == []
    method, path, headers, _ = _Handler.seen[-1]
    assert (method, path) == ("GET", "/v5.0/acme/stream?limit=1")
    assert headers["X-Auth-User"] == "u" and headers["X-Auth-Token"] == "tok"


def test_error_status_is_returned_not_raised_with_retry_after(server):
    c = OctaveClient(server, "acme", "u", "tok")
    r = c.request("POST", "/busy", json={})
    assert not r.ok and r.status == 503 and r.errors == ["busy"] and r.retry_after == 7.0
    r = c.request("GET", "/plain")
    assert r.status == 500 and "oops" in r.errors[0]


def test_convenience_methods_raise_remote_error(server):
    c = OctaveClient(server, "acme", "u", "tok")
    with pytest.raises(RemoteError) as exc:
        c.create_event("sX", {"a": 1})  # goes to /event/sX → 200 here, fine
        c._call("POST", "/busy")
    assert exc.value.retryable is True and "busy" in exc.value.message
    assert c.get_device("missing") is None
    assert c.find_stream("/acme/x") == {"id": "s1"}
    sent = _Handler.seen[-1]
    assert 'filter=path%3D%3D%22%2Facme%2Fx%22' in sent[1]


def test_create_event_sends_generated_date(server):
    c = OctaveClient(server, "acme", "u", "tok")
    c.create_event("s123", {"t": 1.5}, hash="h1", generated_date=1700000000123)
    _, path, _, body = _Handler.seen[-1]
    assert path == "/v5.0/acme/event/s123"
    assert json.loads(body) == {"elems": {"t": 1.5}, "hash": "h1", "generatedDate": 1700000000123}


def test_network_error_is_retryable_remote_error():
    c = OctaveClient("http://127.0.0.1:9/v5.0", "acme", "u", "t", timeout=1.0)
    with pytest.raises(RemoteError) as exc:
        c.request("GET", "/stream")
    assert exc.value.retryable is True


def test_credentials_env_then_file(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "credentials.json"
    monkeypatch.setenv("EDGEHOOK_CREDENTIALS", str(path))
    monkeypatch.delenv("EDGEHOOK_USER", raising=False)
    monkeypatch.delenv("EDGEHOOK_TOKEN", raising=False)
    with pytest.raises(UsageError):
        cr.resolve_credentials()
    creds, created = cr.ensure_credentials()
    assert created == path and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cr.resolve_credentials() == creds and "hidden" in repr(creds)
    assert cr.ensure_credentials() == (creds, None)  # second start reuses the file
    monkeypatch.setenv("EDGEHOOK_USER", "env-user")
    monkeypatch.setenv("EDGEHOOK_TOKEN", "env-token")
    assert cr.resolve_credentials() == cr.Credentials("env-user", "env-token")
    path.write_text("not json")
    monkeypatch.delenv("EDGEHOOK_USER")
    with pytest.raises(UsageError):
        cr.resolve_credentials()


def test_a_kept_alive_connection_the_server_closed_is_retried_for_reads():
    """The race between reusing a pooled connection and the server's keep-alive timeout: the
    server answers with keep-alive, then closes the socket; the next GET must still succeed."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    body = b'{"head": {"status": 200, "ok": true, "errors": []}, "body": []}'
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    served = []

    def serve() -> None:
        conn, _addr = listener.accept()
        conn.recv(65536)
        conn.sendall(answer)
        served.append(1)
        conn.recv(65536)  # the second request arrives as the server times the connection out
        conn.close()
        conn, _addr = listener.accept()
        conn.recv(65536)
        conn.sendall(answer)
        served.append(1)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = OctaveClient(f"http://127.0.0.1:{port}/v5.0", "acme", "u", "t", timeout=5)
    assert client.request("GET", "/stream").ok
    assert client.request("GET", "/stream").ok  # the pooled connection is dead: retried on a new one
    t.join(timeout=5)
    listener.close()
    assert len(served) == 2
