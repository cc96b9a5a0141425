"""Errors on pages are pages: the same handlers that answer the API with problem details
answer a page request with a readable HTML page of the same status (and headers, such as
Retry-After), and an ended console session sends the browser to the sign-in page."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Message, Scope, Send

from service.domain.sessions.service import SessionEnded
from service.web.i18n import gettext as _
from service.web.security import LTI_PREFIX, SIGN_IN_PATH, is_page_request
from service.web.templating import render

log = logging.getLogger(__name__)

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]
# Headers of the API's error response worth keeping on the page.
_KEPT_HEADERS = ("retry-after", "www-authenticate")


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be read"),
        401: _("Please sign in"),
        403: _("Not allowed"),
        404: _("Page not found"),
        405: _("Not allowed here"),
        409: _("That changed in the meantime"),
        410: _("This link has expired"),
        413: _("That was too large"),
        415: _("That kind of form is not accepted"),
        422: _("Something in the form needs fixing"),
        429: _("Too many requests"),
        500: _("Something went wrong on our side"),
        503: _("The service is busy or down for a moment"),
    }


def error_page(
    request: Request,
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    title = _titles().get(status, _("Something went wrong"))
    # An LTI error is shown inside the LMS's iframe, whichever LMS it was (the failed launch
    # may not say): the page says only what went wrong, so any site may frame it.
    framed = ["*"] if request.url.path.startswith(LTI_PREFIX) else []
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        status_code=status,
        headers=headers,
        frame_ancestors=framed,
    )


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    # Only a GET can be repeated after signing in; a form post goes back to the console.
    next_path = target if request.method == "GET" else "/console"
    return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(next_path, safe='/')}", status_code=303)


def _as_page(handler: Handler) -> Handler:
    async def wrapped(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SessionEnded) and is_page_request(request):
            return sign_in_redirect(request)
        response = handler(request, exc)
        if isinstance(response, Awaitable):
            response = await response
        if not is_page_request(request):
            return response
        detail = ""
        try:
            body: Any = json.loads(bytes(response.body))
            detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
        except (ValueError, AttributeError):
            pass
        kept = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
        return error_page(request, response.status_code, detail, headers=kept)

    return wrapped


def install_page_errors(app: FastAPI) -> None:
    """Wrap every installed exception handler (call after the API's are installed)."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _as_page(handler)


async def _send_page(scope: Scope, send: Send, response: Response) -> None:
    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


async def csrf_failure_page(scope: Scope, send: Send, reason: object) -> None:
    request = Request(scope)
    log.info("csrf check failed on %s: %s", scope.get("path"), reason)
    response = error_page(
        request,
        403,
        _(
            "This form has expired or did not come from this site. Go back, reload the "
            "page and try again."
        ),
    )
    await _send_page(scope, send, response)


async def unsupported_form_page(scope: Scope, send: Send) -> None:
    response = error_page(
        Request(scope), 415, _("Forms here are sent as ordinary web forms; this one was not.")
    )
    await _send_page(scope, send, response)
