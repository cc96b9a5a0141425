"""Request-scoped dependencies: one database session per request, shared app state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from service.api.ratelimit import client_address, limiter_of
from service.config import Settings
from service.db.session import session_scope
from service.domain.access.principal import Principal, Role
from service.domain.keys import service as key_service
from service.domain.keys.cache import KeyCache
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
) -> Principal:
    """The caller, resolved once per request: its organisation, role and courses (kept for
    under a second per key, see service/domain/keys/cache.py).

    Rate limited per key (429 with Retry-After). An address that has sent too many unknown
    keys is refused before the lookup, so the endpoint is not an unlimited oracle for
    guessing keys.
    """
    presented = credentials.credentials if credentials else None
    cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
    limiter = limiter_of(request)
    if limiter is None:
        return key_service.resolve(session, presented, cache)
    address = client_address(request)
    limiter.check_address(address)
    try:
        principal = key_service.resolve(session, presented, cache)
    except Unauthorized:
        limiter.record_failure(address)
        raise
    limiter.hit_key(principal)
    return principal


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits the listed roles (an organisation's admin always)."""
    allowed = frozenset({Role.ADMIN, *roles})

    def guard(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"This action needs one of the roles {sorted(r.value for r in allowed)}; "
                f"this key has role {principal.role.value!r}."
            )
        return principal

    return guard


def require_operator(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_operator:
        raise Forbidden("This action needs the deployment operator's key.")
    return principal


Caller = Annotated[Principal, Depends(get_principal)]
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
Instructor = Annotated[Principal, Depends(require_role(Role.INSTRUCTOR))]
Integration = Annotated[Principal, Depends(require_role(Role.INTEGRATION))]
# Reading questions and submissions: staff see their scope, integrations what they may
# (their organisation's questions without rubric internals, the submissions they posted).
Reader = Annotated[Principal, Depends(require_role(Role.INSTRUCTOR, Role.INTEGRATION))]
