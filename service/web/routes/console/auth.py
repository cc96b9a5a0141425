"""Signing in (a key, exchanged once for a session cookie) and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import SessionDep, SettingsDep
from service.api.ratelimit import client_address, limiter_of
from service.db.base import utcnow
from service.domain.sessions import service as session_service
from service.errors import Forbidden, Unauthorized
from service.web.deps import (
    SESSION_COOKIE,
    clear_session_cookie,
    session_policy,
    set_session_cookie,
)
from service.web.i18n import gettext as _
from service.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a path of the console itself: never another site (an open redirect)."""
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return "/console"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> HTMLResponse:
    return render(request, "console/sign_in.html", {"next": safe_next(next), "errors": {}})


@router.post("/sign-in", response_model=None)
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    limiter = limiter_of(request)
    address = client_address(request)
    try:
        if limiter is not None:
            limiter.check_address(address)
        if not key.strip():
            raise Unauthorized(_("Enter your key."))
        signed = session_service.sign_in_with_key(
            session, key, policy=session_policy(settings), now=utcnow()
        )
    except (Unauthorized, Forbidden) as exc:
        if limiter is not None and isinstance(exc, Unauthorized):
            limiter.record_failure(address)
        message = (
            str(exc)
            if isinstance(exc, Forbidden)
            else _("That key is not valid or has been revoked.")
        )
        if not key.strip():
            message = _("Enter your key.")
        status = 403 if isinstance(exc, Forbidden) else 401
        return render(
            request,
            "console/sign_in.html",
            {"next": safe_next(next), "errors": {"key": message}},
            status_code=status,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, signed.token)
    return response


@router.post("/sign-out", response_model=None)
def sign_out(request: Request, session: SessionDep) -> Response:
    session_service.sign_out(session, request.cookies.get(SESSION_COOKIE), now=utcnow())
    response = render(request, "console/signed_out.html", {})
    clear_session_cookie(request, response)
    return response
