"""The ASGI app (Starlette) of the local cloud, its OpenAPI document, and `serve` under uvicorn."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edgehook import __version__
from edgehook.cloud.envelope import endpoint, error
from edgehook.cloud.routes import ROUTES
from edgehook.cloud.service import Cloud


def openapi() -> dict:
    """The OpenAPI 3 document of the routes (extensions marked `x-edgehook-extension`)."""
    paths: dict[str, dict] = {}
    for spec in ROUTES:
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(spec.path)
        ]
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": spec.handler.__name__,
            "parameters": params,
            "responses": {str(spec.status): {"description": "Octave envelope {head, body}"},
                          "400": {"description": "bad request"}, "403": {"description": "forbidden"},
                          "404": {"description": "not found"}},
            "security": [{"user": [], "token": []}],
        }
        if spec.extension:
            op["x-edgehook-extension"] = True
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "edgehook local cloud (Octave REST v5.0 subset)", "version": __version__},
        "paths": paths,
        "components": {"securitySchemes": {
            "user": {"type": "apiKey", "in": "header", "name": "X-Auth-User"},
            "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        }},
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi())


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "no such endpoint", 405: "method not allowed"}.get(status, str(exc))
    return error(status, f"{message}: {request.method} {request.url.path}")


def build_app(cloud: Cloud) -> Starlette:
    routes = [Route(s.path, endpoint(s.handler, s.status), methods=[s.method]) for s in ROUTES]
    routes.append(Route("/openapi.json", _openapi, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        cloud.start()
        try:
            yield
        finally:
            cloud.stop()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error})
    app.state.service = cloud
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 = an ephemeral port), so the URL is known before serving."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit it: no Nagle delay between a response's header and body writes
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def serve(cloud: Cloud, sock: socket.socket, log_level: str = "warning",
          on_ready: Callable[[], None] | None = None) -> None:
    """Serve until interrupted (uvicorn on the given socket)."""
    config = uvicorn.Config(build_app(cloud), log_level=log_level, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready()
    server.run(sockets=[sock])
