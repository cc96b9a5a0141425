"""Pure ASGI middleware: request ids, access log and metrics, security headers, and the
request body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import observability
from service.errors import problem
from service.logging import request_id_var

access_log = logging.getLogger("service.access")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take a sane ``X-Request-ID`` from the client or make one; log with it, echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        # Also on request.state, for handlers that run outside this middleware (the 500 one).
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with a 413 problem, before they are parsed.

    Checked from Content-Length when the client declares it, and while streaming when it
    does not, so a huge or deeply nested JSON document costs at most ``max_bytes`` of
    reading. (FastAPI's own ``max_body_size`` answers the declared case in text/plain,
    which would break our promise that every error is problem+json.)
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app, so its exception handler renders the 413
                    # (FastAPI re-raises HTTPException from body parsing unchanged).
                    raise HTTPException(status_code=413, detail=self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"Request body exceeds the limit of {self.max_bytes} bytes."

    async def _reject(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            problem(
                status=413,
                code="payload_too_large",
                title="Content Too Large",
                detail=self._detail(),
                instance=scope.get("path"),
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/submissions/{submission_id}``), never the raw path.

    Raw paths carry ids and feedback tokens (secrets) and are unbounded; the template is
    neither. Starlette's router records the matched route in the scope.
    """
    route = scope.get("route")
    if route is None and "endpoint" in scope:
        # FastAPI's routes record themselves; plain Starlette ones (/docs, /openapi.json)
        # leave only their endpoint, so find the route that owns it.
        routes = getattr(scope.get("router"), "routes", ())
        route = next((r for r in routes if getattr(r, "endpoint", None) is scope["endpoint"]), None)
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else observability.UNMATCHED_ROUTE


class AccessLogMiddleware:
    """One INFO line per request (method, route template, status, duration; the request id
    comes from the logging filter) and the HTTP metrics. No query string is logged: it may
    carry filters with learner ids."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering, the server sends a 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        method = str(scope["method"])
        route = route_template(scope)
        observability.observe_http(method=method, route=route, status=status, seconds=seconds)
        duration_ms = round(seconds * 1000, 2)
        access_log.info(
            "%s %s %d %.2fms",
            method,
            route,
            status,
            duration_ms,
            extra={
                "request_id": request_id_var.get(),
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
            },
        )


# A JSON API renders nothing: no scripts, frames, forms or base URL, and no one may frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# /docs (Swagger UI) and /redoc load their scripts and styles from this service (the
# fastapi-offline package's copies) but start with an inline script, and ReDoc uses blob:
# workers. The page shows only our own OpenAPI document, so 'unsafe-inline' there is an
# acceptable price for working docs; nothing is loaded from another site.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    """Security headers on every response, unless the response already set that header.

    ``Referrer-Policy: no-referrer`` matters most: a student's feedback URL is its own
    credential and must never leak to another site in a ``Referer``. ``Cache-Control:
    no-store`` keeps answers and scores out of shared caches and the browser's disk cache.
    HSTS only on requests that arrived over HTTPS (uvicorn sets the scheme from a trusted
    proxy's X-Forwarded-Proto): browsers ignore it over plain HTTP, and the service itself
    serves plain HTTP behind a TLS-terminating proxy.
    """

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self._headers_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = message.setdefault("headers", [])
                present = {name.lower() for name, _ in existing}
                # A page that sets its own CSP says who may frame it (frame-ancestors, which
                # supersedes X-Frame-Options): the student page may be embedded by an LMS.
                if b"content-security-policy" in present:
                    present.add(b"x-frame-options")
                existing.extend((n, v) for n, v in headers if n not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        csp = DOCS_CSP if scope.get("path") in self.docs_paths else API_CSP
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cache-control", b"no-store"),
            (b"content-security-policy", csp.encode()),
        ]
        if scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers
