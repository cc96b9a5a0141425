"""Console sessions: sign in with a key (later an LTI launch), resolve the principal on each
request, idle and absolute timeouts, sign out.

The cookie holds a random token; the database holds its SHA-256 and who signed in. Nothing
lives in process memory, so any replica can serve any request, and sign-out or revoking the
key ends the session everywhere on the next request. A key's session re-reads the key (and
an instructor's course grants) on every request, like the API does for a bearer key.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.models import ApiKey, WebSession
from service.db.session import session_scope
from service.domain.access.principal import Principal, Role, Via
from service.domain.keys import service as key_service
from service.domain.sessions.repository import SessionRepository
from service.errors import Forbidden, Unauthorized

# Roles that may use the console: the people, not the LMS connections.
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.INSTRUCTOR})
# A session's last-seen time is written at most this often: a page view is a read, and on
# SQLite every write takes the database's one write lock.
TOUCH_EVERY = timedelta(seconds=60)
CSRF_SECRET_NAME = "csrf-signing"


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    lifetime: timedelta


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the cookie; never stored
    row: WebSession


@dataclass(frozen=True)
class ActiveSession:
    id: uuid.UUID
    principal: Principal
    display_name: str
    expires_at: datetime


class SessionEnded(Unauthorized):
    code = "session_ended"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in_with_key(
    session: Session, presented: str, *, policy: SessionPolicy, now: datetime
) -> SignedIn:
    """Exchange an instructor's or admin's key, once, for a session."""
    row = key_service.authenticate(session, presented.strip())
    role = Role(row.role)
    if role not in CONSOLE_ROLES:
        raise Forbidden(
            f"A key with role {role.value!r} cannot sign in to the console: "
            "use an instructor or admin key."
        )
    return _start(
        session,
        organization_id=row.organization_id,
        api_key_id=row.id,
        role=role,
        course_ids=None,
        display_name=row.name,
        policy=policy,
        now=now,
    )


def sign_in_principal(
    session: Session,
    *,
    organization_id: uuid.UUID,
    role: Role,
    course_ids: frozenset[uuid.UUID],
    display_name: str,
    policy: SessionPolicy,
    now: datetime,
) -> SignedIn:
    """A session for a caller vouched for by someone else (an LTI launch): it carries its
    own role and courses, as the launch stated them."""
    return _start(
        session,
        organization_id=organization_id,
        api_key_id=None,
        role=role,
        course_ids=sorted(str(c) for c in course_ids),
        display_name=display_name,
        policy=policy,
        now=now,
    )


def _start(
    session: Session,
    *,
    organization_id: uuid.UUID,
    api_key_id: uuid.UUID | None,
    role: Role,
    course_ids: list[str] | None,
    display_name: str,
    policy: SessionPolicy,
    now: datetime,
) -> SignedIn:
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=hash_token(token),
        organization_id=organization_id,
        api_key_id=api_key_id,
        role=role.value,
        course_ids=course_ids,
        display_name=display_name[:200],
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
    )
    SessionRepository(session).add(row)
    session.flush()
    return SignedIn(token=token, row=row)


def resolve(
    session: Session, token: str | None, *, policy: SessionPolicy, now: datetime
) -> ActiveSession:
    """The principal of a live session, or ``SessionEnded`` (signed out, idle, too old, or
    its key revoked)."""
    if not token or len(token) > 128:
        raise SessionEnded("Sign in to continue.")
    repo = SessionRepository(session)
    row = repo.get_by_hash(hash_token(token))
    if row is None or row.ended_at is not None:
        raise SessionEnded("Sign in to continue.")
    if now >= row.expires_at or now - row.last_seen_at >= policy.idle:
        raise SessionEnded("Your session has timed out. Sign in again to continue.")
    principal = _principal(session, row)
    if now - row.last_seen_at >= TOUCH_EVERY:
        repo.touch(row.id, now)
    return ActiveSession(
        id=row.id,
        principal=principal,
        display_name=row.display_name,
        expires_at=min(row.expires_at, row.last_seen_at + policy.idle),
    )


def _principal(session: Session, row: WebSession) -> Principal:
    if row.api_key_id is not None:
        key = session.get(ApiKey, row.api_key_id)
        if key is None or not key.is_active or key.organization_id != row.organization_id:
            raise SessionEnded("The key you signed in with has been revoked.")
        principal = key_service.principal_for(session, key)
        if principal.role not in CONSOLE_ROLES:
            raise SessionEnded("Sign in to continue.")
        return principal
    # A launch's session: no key to re-read. key_id is the session's own id, so audit rows
    # and rate limits still name one caller.
    return Principal(
        key_id=row.id,
        name=row.display_name,
        role=Role(row.role),
        organization_id=row.organization_id,
        course_ids=frozenset(uuid.UUID(c) for c in row.course_ids or ()),
        via=Via.LTI,
    )


def sign_out(session: Session, token: str | None, *, now: datetime) -> None:
    if not token or len(token) > 128:
        return
    repo = SessionRepository(session)
    row = repo.get_by_hash(hash_token(token))
    if row is not None:
        repo.end(row.id, now)


def delete_expired(factory: sessionmaker[Session], *, batch: int = 1000) -> int:
    """Sessions past their absolute lifetime (signed out or not) are of no further use."""
    with session_scope(factory) as session:
        return SessionRepository(session).delete_expired(utcnow(), limit=batch)


def deployment_secret(session: Session, name: str = CSRF_SECRET_NAME) -> str:
    """A secret made once for the deployment and shared through the database; two processes
    starting together agree on the first one written."""
    repo = SessionRepository(session)
    existing = repo.get_secret(name)
    if existing is not None:
        return existing
    candidate = secrets.token_urlsafe(48)
    try:
        with session.begin_nested():
            repo.add_secret(name, candidate)
    except IntegrityError:
        stored = repo.get_secret(name)
        if stored is None:  # pragma: no cover - the row that won the race is there
            raise
        return stored
    return candidate
