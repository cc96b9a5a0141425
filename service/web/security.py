"""What makes the pages safe to put in front of people: which requests are pages, their
Content Security Policy, CSRF protection of every form, and the form-body guard.

CSRF uses ``asgi-csrf`` (double-submit cookie, signed with the deployment's secret): every
state-changing request to a page path must carry the token from the cookie in a form field
(``csrftoken``) or the ``x-csrftoken`` header. The JSON API is skipped: it is called with a
bearer key, never with ambient cookies, so a cross-site form cannot act as anyone there.
"""

from __future__ import annotations

from collections.abc import Iterable

from asgi_csrf import Errors, asgi_csrf  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

CSRF_COOKIE = "grader_csrf"
CSRF_FIELD = "csrftoken"
CSRF_HEADER = "x-csrftoken"
# Page paths; everything else is the JSON API (``/v1/feedback/...`` is both: see below).
PAGE_PREFIXES = ("/console", "/static/")
SIGN_IN_PATH = "/console/sign-in"


def is_page_path(path: str) -> bool:
    return path == "/" or path.startswith(PAGE_PREFIXES)


def wants_html(accept: str | None) -> bool:
    """True when the client prefers HTML to JSON: a browser's navigation (``text/html,...``),
    never a program's ``application/json`` or ``*/*``."""
    if not accept:
        return False
    html = json = 0.0
    for part in accept.split(",")[:30]:
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            html = max(html, quality)
        elif media in ("application/json", "application/problem+json"):
            json = max(json, quality)
    return html > 0 and html >= json


# The LTI endpoints and pages: errors there are pages (shown in the LMS's iframe), but they
# are not CSRF-protected page paths (the platform posts the launch from its own site; the
# pages' forms carry the launch's token).
LTI_PREFIX = "/lti/"


def is_page_request(request: Request) -> bool:
    path = request.url.path
    if is_page_path(path) or path.startswith(LTI_PREFIX):
        return True
    return path.startswith("/v1/feedback/") and wants_html(request.headers.get("accept"))


def content_security_policy(
    frame_ancestors: Iterable[str] = (), form_targets: Iterable[str] = ()
) -> str:
    """No inline script or style anywhere (charts are SVG attributes, not style); only our
    own origin for scripts, styles, images and fetches; forms post to us, and to
    ``form_targets`` (an LMS that receives a deep-linking response)."""
    ancestors = " ".join(frame_ancestors) or "'none'"
    actions = " ".join(["'self'", *(t for t in form_targets if t)])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self'; form-action {actions}; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


class CsrfMiddleware:
    """``asgi-csrf`` around the app, built on the first request: the signing secret may
    come from the database, which start-up reads after the middleware stack is built."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._protected: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self._protected is None:
            state = scope["app"].state
            self._protected = asgi_csrf(
                self.app,
                cookie_name=CSRF_COOKIE,
                http_header=CSRF_HEADER,
                signing_secret=state.csrf_secret,
                # Signing in needs the token too, though no session cookie exists yet: it
                # stops another site from signing a browser in as the attacker.
                always_protect={SIGN_IN_PATH},
                cookie_secure=False,  # per request below: Secure when served over https
                cookie_samesite="Lax",
                send_csrf_failed=_csrf_failed,
            )
        protected = self._protected
        if scope.get("scheme") == "https":
            send = _secure_cookies(send)
        await protected(scope, receive, send)


def _secure_cookies(send: Send) -> Send:
    async def wrapped(message: dict) -> None:  # type: ignore[type-arg]
        if message["type"] == "http.response.start":
            message["headers"] = [
                (name, value + b"; Secure")
                if name.lower() == b"set-cookie"
                and CSRF_COOKIE.encode() in value
                and b"Secure" not in value
                else (name, value)
                for name, value in message.get("headers", [])
            ]
        await send(message)

    return wrapped  # type: ignore[return-value]


async def _csrf_failed(scope: Scope, send: Send, message_id: Errors) -> None:
    from service.web.errors import csrf_failure_page

    await csrf_failure_page(scope, send, message_id)


class PageFormGuard:
    """Page forms are urlencoded (or JSON from our own scripts, which send the CSRF header).
    Anything else to a page path is refused before the CSRF check parses it: multipart
    bodies are never needed here, and a malformed one must not reach a parser that asserts."""

    ALLOWED = (b"application/x-www-form-urlencoded", b"application/json")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in ("GET", "HEAD", "OPTIONS")
            and is_page_path(scope["path"])
        ):
            content_type = dict(scope["headers"]).get(b"content-type", b"")
            if content_type.split(b";", 1)[0].strip().lower() not in self.ALLOWED:
                from service.web.errors import unsupported_form_page

                await unsupported_form_page(scope, send)
                return
        await self.app(scope, receive, send)
