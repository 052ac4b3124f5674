"""The one place that builds Octave's {"head", "body"} envelope and calls handlers safely."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgehook.cloud.errors import CloudError, Forbidden, Invalid

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024

MESSAGES = {
    200: "Your request has been processed successfully.",
    201: "Your request has been processed successfully. A new resource has been created.",
}


def envelope(status: int, body: Any = None, errors: list[str] | None = None, headers: dict | None = None) -> JSONResponse:
    ok = 200 <= status < 300
    head = {
        "status": status,
        "ok": ok,
        "messages": [MESSAGES.get(status, MESSAGES[200])] if ok else [],
        "errors": errors or [],
        "references": {},
    }
    return JSONResponse({"head": head, "body": body}, status_code=status, headers=headers)


def error(status: int, message: str) -> JSONResponse:
    return envelope(status, None, [message])


@dataclass
class Call:
    """What a handler sees of a request: path parameters, query, JSON body, and the service."""

    service: Any
    params: dict[str, str]
    query: dict[str, str]
    raw_body: bytes
    _json: Any = field(default=None, repr=False)

    def json(self) -> Any:
        if not self.raw_body.strip():
            raise Invalid("the request needs a JSON body")
        try:
            return json.loads(self.raw_body)
        except ValueError as exc:
            raise Invalid(f"the body is not valid JSON: {exc}") from None


Handler = Callable[[Call], Any]


def endpoint(handler: Handler, status: int = 200) -> Callable[[Request], Any]:
    """An ASGI endpoint: auth, company check, handler in a thread, envelope for every answer.

    A handler returns the body (answered with `status`) or (status, body).
    """

    async def run(request: Request) -> Response:
        service = request.app.state.service
        try:
            _authorize(request, service)
            body = await request.body()
            if len(body) > MAX_BODY:
                return error(413, f"the request body is larger than {MAX_BODY // (1024 * 1024)} MB")
            call = Call(service, dict(request.path_params), dict(request.query_params), body)
            result = await run_in_threadpool(handler, call)
        except CloudError as exc:
            return error(exc.status, str(exc))
        except Exception:  # a bug: answer 500 in the envelope, keep the traceback in the log
            log.exception("handler %s failed", handler.__name__)
            return error(500, "internal error")
        if isinstance(result, tuple):
            return envelope(result[0], result[1])
        return envelope(status, result)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _authorize(request: Request, service: Any) -> None:
    user = request.headers.get("x-auth-user", "")
    token = request.headers.get("x-auth-token", "")
    good = hmac.compare_digest(user.encode(), service.creds.user.encode()) and hmac.compare_digest(
        token.encode(), service.creds.token.encode()
    )
    if not good:
        raise Forbidden("missing or wrong X-Auth-User / X-Auth-Token")
    company = request.path_params.get("company")
    if company is not None and company != service.company:
        raise Forbidden(f"no access to company {company!r}")
