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
from service.db.models import ApiKey
from service.domain.callbacks import service as callback_service
from service.domain.callbacks import signing
from service.domain.callbacks.destinations import DestinationPolicy
from service.domain.keys.repository import KeyRepository
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


def create_key(session: Session, *, name: str, role: str, key: str | None = None) -> NewKey:
    """Create a key; ``key`` lets a deployer choose the first admin key (bootstrap)."""
    key = key or generate_key()
    row = ApiKey(name=name, role=role, prefix=key[:VISIBLE_PREFIX_CHARS], key_hash=hash_key(key))
    KeyRepository(session).add(row)
    session.flush()
    log.info("api key %s created (role=%s)", row.id, role)
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
    row = KeyRepository(session).get_by_hash(digest)
    if row is None or not hmac.compare_digest(row.key_hash, digest) or not row.is_active:
        raise Unauthorized("The API key is not valid or has been revoked.")
    return row


def list_keys(session: Session) -> Sequence[ApiKey]:
    return KeyRepository(session).list_all()


def revoke_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    repo = KeyRepository(session)
    row = repo.get(key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id}.")
    if row.revoked_at is None:
        if row.role == "admin" and repo.count_active_admins() <= 1:
            raise Conflict("This is the last active admin key; create another admin key first.")
        row.revoked_at = utcnow()
        # A revoked key's queued callbacks stop here; the worker also skips them at claim.
        callback_service.cancel_pending(session, row)
        session.flush()
        log.info("api key %s revoked", row.id)
    return row


def bootstrap_admin(session: Session, *, configured_key: str | None) -> str | None:
    """On a database with no keys, create the first admin key.

    Returns the key when it was generated here (to be shown once), None when keys already
    exist or the deployer supplied ``configured_key`` (GRADER_BOOTSTRAP_ADMIN_KEY).
    """
    repo = KeyRepository(session)
    if configured_key:
        if len(configured_key) < MIN_BOOTSTRAP_KEY_CHARS:
            raise UnprocessableRequest(
                f"GRADER_BOOTSTRAP_ADMIN_KEY must be at least {MIN_BOOTSTRAP_KEY_CHARS} characters."
            )
        if repo.get_by_hash(hash_key(configured_key)) is None and repo.count() == 0:
            create_key(session, name="bootstrap admin", role="admin", key=configured_key)
        return None
    if repo.count() > 0:
        return None
    return create_key(session, name="bootstrap admin", role="admin").key


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
