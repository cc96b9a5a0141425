"""API keys: random, shown once, stored as a hash; roles decide what a key may do."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import ApiKey, Course
from service.domain.access.principal import Principal, Role, Scope
from service.domain.callbacks import service as callback_service
from service.domain.callbacks import signing
from service.domain.callbacks.destinations import DestinationPolicy
from service.domain.keys.cache import KeyCache
from service.domain.keys.repository import KeyRepository
from service.domain.keys.schemas import KeyCreate, KeyRead
from service.domain.organizations import service as organization_service
from service.errors import Conflict, NotFound, Unauthorized, UnprocessableRequest

log = logging.getLogger(__name__)

KEY_PREFIX = "grk_"
# 32 random bytes (256 bits): far beyond guessing, so a fast hash (SHA-256) is the right
# storage; slow password hashes are for low-entropy secrets chosen by people.
KEY_BYTES = 32
MIN_BOOTSTRAP_KEY_CHARS = 32
VISIBLE_PREFIX_CHARS = 12


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    key: str


def create_key(
    session: Session,
    *,
    organization_id: uuid.UUID,
    name: str,
    role: Role,
    key: str | None = None,
    is_operator: bool = False,
    courses: Sequence[Course] = (),
) -> NewKey:
    """Create a key of ``organization_id``; ``key`` lets a deployer choose the first admin
    key (bootstrap). An instructor key is granted ``courses`` (of the same organisation)."""
    if role is not Role.INSTRUCTOR and courses:
        raise UnprocessableRequest("Only instructor keys are granted courses.")
    key = key or generate_key()
    row = ApiKey(
        id=uuid.uuid4(),
        organization_id=organization_id,
        name=name,
        role=role.value,
        is_operator=is_operator or role is Role.OPERATOR,
        prefix=key[:VISIBLE_PREFIX_CHARS],
        key_hash=hash_key(key),
    )
    KeyRepository(session, Scope.organization(organization_id)).add(row)
    session.flush()
    for course in courses:
        organization_service.grant(session, api_key_id=row.id, course=course)
    log.info("api key %s created (role=%s)", row.id, role.value)
    return NewKey(row=row, key=key)


def authenticate(session: Session, key: str | None) -> ApiKey:
    """The active key matching ``key``, or ``Unauthorized``.

    Looked up by the SHA-256 of the presented key, then compared in constant time: the index
    lookup reveals nothing usable (an attacker cannot choose inputs with a given hash), and
    ``compare_digest`` keeps the final check free of timing differences.
    """
    if not key:
        raise Unauthorized("An API key is required: send 'Authorization: Bearer <key>'.")
    digest = hash_key(key)
    # The system scope: the key is what tells whose caller this is.
    row = KeyRepository(session, Scope.system()).get_by_hash(digest)
    if row is None or not hmac.compare_digest(row.key_hash, digest) or not row.is_active:
        raise Unauthorized("The API key is not valid or has been revoked.")
    return row


def resolve(session: Session, key: str | None, cache: KeyCache | None = None) -> Principal:
    """The caller ``key`` stands for, from ``cache`` while it is fresh (see keys/cache.py),
    else looked up (``authenticate``) and remembered; ``Unauthorized`` for a bad key."""
    if cache is None or not key:
        return principal_for(session, authenticate(session, key))
    digest = hash_key(key)
    principal = cache.get(digest)
    if principal is None:
        generation = cache.generation
        principal = principal_for(session, authenticate(session, key))
        cache.put(digest, principal, generation=generation)
    return principal


def principal_for(session: Session, row: ApiKey) -> Principal:
    """The caller a key stands for: its organisation, role and (instructors) courses."""
    role = Role(row.role)
    courses = (
        organization_service.granted_course_ids(session, row.id)
        if role is Role.INSTRUCTOR
        else frozenset()
    )
    return Principal(
        key_id=row.id,
        name=row.name,
        role=role,
        organization_id=row.organization_id,
        course_ids=courses,
        is_operator=row.is_operator,
    )


def get_key(session: Session, scope: Scope, key_id: uuid.UUID) -> ApiKey:
    row = KeyRepository(session, scope).get(key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id}.")
    return row


def own_key(session: Session, principal: Principal) -> ApiKey:
    """The caller's own key row (its callback settings live there); authentication loaded
    it into this session already, so this is an identity-map lookup, not a query."""
    row = session.get(ApiKey, principal.key_id)
    if row is None or row.organization_id != principal.organization_id:
        raise NotFound("No such API key.")
    return row


def list_keys(session: Session, scope: Scope) -> Sequence[ApiKey]:
    return KeyRepository(session, scope).list_all()


def revoke_key(session: Session, scope: Scope, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key of the scope's organisation; its last active admin key stays.

    The organisation row is locked first, so two admins revoking each other at the same
    moment are serialised and the second sees the first's revocation (PostgreSQL row lock;
    SQLite's write transactions are serialised already by BEGIN IMMEDIATE).
    """
    row = get_key(session, scope, key_id)
    if row.revoked_at is None:
        organization_service.lock_organization(session, row.organization_id)
        session.refresh(row)
        repo = KeyRepository(session, scope)
        if row.revoked_at is None:
            if row.role == Role.ADMIN.value and repo.count_active_admins(row.organization_id) <= 1:
                raise Conflict(
                    "This is the last active admin key of the organisation; "
                    "create another admin key first."
                )
            row.revoked_at = utcnow()
            # A revoked key's queued callbacks stop here; the worker also skips them at claim.
            callback_service.cancel_pending(session, row)
            session.flush()
            log.info("api key %s revoked", row.id)
    return row


def bootstrap_admin(
    session: Session, *, organization_id: uuid.UUID, configured_key: str | None
) -> str | None:
    """On a database with no keys, create the first key: the admin of the default
    organisation, with the operator capability (the deployment owner's key).

    Returns the key when it was generated here (to be shown once), None when keys already
    exist or the deployer supplied ``configured_key`` (GRADER_BOOTSTRAP_ADMIN_KEY).
    """
    repo = KeyRepository(session, Scope.system())
    if configured_key:
        if len(configured_key) < MIN_BOOTSTRAP_KEY_CHARS:
            raise UnprocessableRequest(
                f"GRADER_BOOTSTRAP_ADMIN_KEY must be at least {MIN_BOOTSTRAP_KEY_CHARS} characters."
            )
        if repo.get_by_hash(hash_key(configured_key)) is None and repo.count() == 0:
            create_key(
                session,
                organization_id=organization_id,
                name="bootstrap admin",
                role=Role.ADMIN,
                key=configured_key,
                is_operator=True,
            )
        return None
    if repo.count() > 0:
        return None
    return create_key(
        session,
        organization_id=organization_id,
        name="bootstrap admin",
        role=Role.ADMIN,
        is_operator=True,
    ).key


def set_callback(
    session: Session,
    principal: ApiKey,
    *,
    url: str,
    secret: str | None,
    destinations: DestinationPolicy,
) -> str:
    """Store the callback if its destination may receive callbacks (else 422, nothing stored).

    Without ``secret`` one is generated. Returns the secret in Standard Webhooks form, to be
    shown once. A new URL or secret cancels deliveries still queued for the old one: they
    must neither go to the old URL nor be signed with a secret the receiver no longer has.
    """
    callback_service.check_destination(url, destinations)
    secret = secret or signing.generate_secret()
    if (principal.callback_url, principal.callback_secret) != (url, secret):
        callback_service.cancel_pending(session, principal)
    principal.callback_url = url
    principal.callback_secret = secret
    session.flush()
    return signing.standard_secret(secret)


def clear_callback(session: Session, principal: ApiKey) -> ApiKey:
    callback_service.cancel_pending(session, principal)
    principal.callback_url = None
    principal.callback_secret = None
    session.flush()
    return principal


def present_key(session: Session, row: ApiKey) -> KeyRead:
    organization = organization_service.get_organization(session, row.organization_id)
    courses = (
        organization_service.course_slugs(
            session, sorted(organization_service.granted_course_ids(session, row.id))
        )
        if row.role == Role.INSTRUCTOR.value
        else []
    )
    return KeyRead(
        id=row.id,
        name=row.name,
        role=row.role,
        organization_id=organization.slug,
        is_operator=row.is_operator,
        course_ids=courses,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create_key_for(session: Session, admin: Principal, body: KeyCreate) -> NewKey:
    """A key of the admin's organisation; instructor keys get the named courses (404 for a
    course the organisation does not have)."""
    courses = [
        organization_service.get_course(session, admin.scope, admin.organization_id, slug)
        for slug in dict.fromkeys(body.course_ids)
    ]
    return create_key(
        session,
        organization_id=admin.organization_id,
        name=body.name,
        role=Role(body.role),
        courses=courses,
    )
