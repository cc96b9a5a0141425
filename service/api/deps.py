"""Request-scoped dependencies: one database session per request, shared app state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from service.api.ratelimit import client_address, limiter_of
from service.config import Settings
from service.db.models import ApiKey
from service.db.session import session_scope
from service.domain.keys import service as key_service
from service.domain.rubrics.service import GraderCache
from service.errors import Forbidden, Unauthorized


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the handler returns, roll back if it raises.

    Declared with ``scope="function"`` below so the commit happens *before* the response
    is sent: a failing commit then becomes an error response instead of a 2xx for a row
    that was never stored.
    """
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with session_scope(factory) as session:
        yield session


def get_graders(request: Request) -> GraderCache:
    graders: GraderCache = request.app.state.graders
    return graders


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
GradersDep = Annotated[GraderCache, Depends(get_graders)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


# Shown in OpenAPI as the "bearer" security scheme; auto_error=False so that a missing key
# is answered by our own 401 problem document.
_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The request's API key, rate limited per key (429 with Retry-After).

    An address that has sent too many unknown keys is refused before the lookup, so the
    endpoint is not an unlimited oracle for guessing keys.
    """
    limiter = limiter_of(request)
    if limiter is None:
        return key_service.authenticate(session, credentials.credentials if credentials else None)
    address = client_address(request)
    limiter.check_address(address)
    try:
        principal = key_service.authenticate(
            session, credentials.credentials if credentials else None
        )
    except Unauthorized:
        limiter.record_failure(address)
        raise
    limiter.hit_key(principal)
    return principal


def require_role(*roles: str) -> Callable[[ApiKey], ApiKey]:
    """A dependency that admits the listed roles (admin is always admitted)."""
    allowed = frozenset({"admin", *roles})

    def guard(principal: Annotated[ApiKey, Depends(get_principal)]) -> ApiKey:
        if principal.role not in allowed:
            raise Forbidden(
                f"This action needs one of the roles {sorted(allowed)}; "
                f"this key has role {principal.role!r}."
            )
        return principal

    return guard


Principal = Annotated[ApiKey, Depends(get_principal)]
Admin = Annotated[ApiKey, Depends(require_role("admin"))]
Instructor = Annotated[ApiKey, Depends(require_role("instructor"))]
Integration = Annotated[ApiKey, Depends(require_role("integration"))]
# Reading submissions: instructors read all, integrations only their own (checked in services).
Reader = Annotated[ApiKey, Depends(require_role("instructor", "integration"))]
