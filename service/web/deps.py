"""Request dependencies of the pages: the console session's principal, and role guards.

The session cookie is HttpOnly, SameSite=Lax, Secure when the request came over https
(uvicorn sets the scheme from a trusted proxy), and holds only a random token: who it
stands for is in the database (``service.domain.sessions``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from service.api.deps import SessionDep, SettingsDep
from service.config import Settings
from service.db.base import utcnow
from service.domain.access.principal import Principal, Role
from service.domain.sessions import service as session_service
from service.domain.sessions.service import ActiveSession, SessionPolicy
from service.errors import Forbidden

SESSION_COOKIE = "grader_session"


def session_policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_max_hours),
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )


def get_console_session(
    request: Request, session: SessionDep, settings: SettingsDep
) -> ActiveSession:
    """The signed-in person, or ``SessionEnded`` (answered by a redirect to sign in)."""
    active = session_service.resolve(
        session,
        request.cookies.get(SESSION_COOKIE),
        policy=session_policy(settings),
        now=utcnow(),
    )
    request.state.console = active
    return active


ConsoleSession = Annotated[ActiveSession, Depends(get_console_session)]


def get_staff(active: ConsoleSession) -> Principal:
    return active.principal


def get_admin(active: ConsoleSession) -> Principal:
    if active.principal.role is not Role.ADMIN:
        raise Forbidden("This page is for your organisation's admins.")
    return active.principal


# Instructors and admins (the only roles that can sign in to the console).
Staff = Annotated[Principal, Depends(get_staff)]
WebAdmin = Annotated[Principal, Depends(get_admin)]
