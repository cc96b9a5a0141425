"""Idempotent POSTs: a retry with the same ``Idempotency-Key`` replays the first response.

The record is written once, with the response, at the end of the request's transaction
(``start`` looks for it, ``Attempt.complete`` inserts it). A retry after the first request
committed finds it and replays it without doing any work. A concurrent retry does the work
too, but its insert waits on the unique (key owner, key hash) index until the first
transaction commits, then fails: its whole transaction (its own submission with it) is
rolled back and it replays the committed response. If the first rolls back instead, the
retry's insert succeeds. Either way the work is stored once.

What is stored reveals neither the key nor the response. The response of a submission
holds the student's feedback link, which is the student's credential, so a database dump
or backup must not hand it out. The record is found by the SHA-256 of the key, and the
response's exact bytes are sealed (AES-256-GCM) with a key derived (HKDF-SHA256) from the
Idempotency-Key itself: only a client presenting the key again can open it, and the replay
is the original response byte for byte. The whole body is sealed, not only the tokens in
it, so the scheme needs no knowledge of the response's shape and also hides the learner ids
and scores in it. The protection is as strong as the key is hard to guess: clients should
send random keys (a UUID v4, as the IETF Idempotency-Key draft recommends), as our own
examples do.

Records expire after ``ttl`` (``GRADER_IDEMPOTENCY_TTL_DAYS``): an expired key counts as
new, and the worker deletes expired records in bounded batches (``delete_expired``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.models import IdempotencyRecord
from service.db.session import session_scope
from service.domain.idempotency.repository import IdempotencyRepository
from service.errors import Conflict, DomainError

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
# Versioned: a new derivation or cipher gets a new context, and old records simply expire.
SEAL_CONTEXT = b"grader idempotency response v1"
NONCE_BYTES = 12
# The worker's sweep: rows per DELETE (one short transaction each), and DELETEs per sweep,
# so a large backlog is worked off over several sweeps without holding up other work.
CLEANUP_BATCH_SIZE = 1000
CLEANUP_MAX_BATCHES = 10


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class SealedResponseUnreadable(RuntimeError):
    """A stored response did not open with the presented key: the row was altered."""


@dataclass(frozen=True)
class Outcome:
    status_code: int
    # The JSON body, byte for byte as first sent (a replay returns exactly these bytes).
    content: bytes
    replayed: bool


def fingerprint(method: str, path: str, canonical_body: str) -> str:
    """What makes two requests "the same": method, path and the validated body."""
    return hashlib.sha256(f"{method} {path}\n{canonical_body}".encode()).hexdigest()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def render(body: Any) -> bytes:
    """JSON bytes exactly as Starlette's ``JSONResponse`` renders them."""
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def _cipher(key: str, owner_id: uuid.UUID) -> AESGCM:
    # The owner's id as salt: the same key string under two API keys seals differently.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=owner_id.bytes, info=SEAL_CONTEXT
    ).derive(key.encode())
    return AESGCM(derived)


def _associated_data(record: IdempotencyRecord) -> bytes:
    # Binds the ciphertext to its row: a sealed response moved to another row, or a row whose
    # request hash or status was changed, fails to open instead of replaying something else.
    parts = (record.api_key_id, record.key_hash, record.request_hash, record.status_code)
    return "|".join(str(part) for part in parts).encode()


def seal(key: str, record: IdempotencyRecord, content: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _cipher(key, record.api_key_id).encrypt(nonce, content, _associated_data(record))


def unseal(key: str, record: IdempotencyRecord) -> bytes:
    sealed = record.sealed_response or b""
    try:
        return _cipher(key, record.api_key_id).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _associated_data(record)
        )
    except InvalidTag as exc:
        raise SealedResponseUnreadable(f"idempotency record {record.id} does not open") from exc


def _replay(key: str, record: IdempotencyRecord, request_hash: str) -> Outcome:
    if record.request_hash != request_hash or record.status_code is None:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request."
        )
    return Outcome(record.status_code, unseal(key, record), replayed=True)


@dataclass
class Attempt:
    """A keyed request that found no live record: do the work, then ``complete`` it."""

    session: Session
    owner_id: uuid.UUID
    key: str
    key_hash: str
    request_hash: str
    # An expired record under the same key, deleted when the new one is written.
    expired: IdempotencyRecord | None = None

    def complete(self, status_code: int, content: bytes, submission_ids: list[str]) -> Outcome:
        """Store the response with the work done in this transaction; if a concurrent request
        with the same key committed first, roll this transaction back and replay that one.

        ``submission_ids`` are kept in clear beside the sealed response (ids only), so that
        deleting a learner's data finds the record."""
        repository = IdempotencyRepository(self.session)
        if self.expired is not None:
            repository.delete(self.expired)
        record = IdempotencyRecord(
            api_key_id=self.owner_id,
            key_hash=self.key_hash,
            request_hash=self.request_hash,
            status_code=status_code,
            submission_ids=submission_ids,
        )
        record.sealed_response = seal(self.key, record, content)
        if not repository.add_last(record):
            winner = repository.find(self.owner_id, self.key_hash)
            if winner is None:  # the other request's record expired or went: nothing to replay
                raise Conflict("A concurrent request with this Idempotency-Key changed; retry.")
            return _replay(self.key, winner, self.request_hash)
        return Outcome(status_code, content, replayed=False)


def start(
    session: Session, *, owner_id: uuid.UUID, key: str, request_hash: str, ttl: timedelta
) -> Outcome | Attempt:
    """The replayed response if ``key`` was used within ``ttl``, else an ``Attempt`` to
    complete once the work is done (``IdempotencyKeyReused`` for another request's key)."""
    repository = IdempotencyRepository(session)
    key_hash = hash_key(key)
    existing = repository.find(owner_id, key_hash)
    if existing is not None and existing.created_at <= utcnow() - ttl:
        # Expired: the key is new again (the old row goes when the new one is written).
        return Attempt(session, owner_id, key, key_hash, request_hash, expired=existing)
    if existing is not None:
        return _replay(key, existing, request_hash)
    return Attempt(session, owner_id, key, key_hash, request_hash)


def run(
    session: Session,
    *,
    owner_id: uuid.UUID,
    key: str | None,
    request_hash: str,
    ttl: timedelta,
    action: Callable[[], tuple[int, Any]],
    subjects: Callable[[Any], list[str]] | None = None,
) -> Outcome:
    """Run ``action`` once per (owner, key) within ``ttl``; without a key, just run it.

    ``action`` returns the status and the JSON body; ``subjects`` names the submissions in
    the body (see ``Attempt.complete``)."""
    if key is None:
        status_code, body = action()
        return Outcome(status_code, render(body), replayed=False)
    started = start(session, owner_id=owner_id, key=key, request_hash=request_hash, ttl=ttl)
    if isinstance(started, Outcome):
        return started
    status_code, body = action()
    ids = subjects(body) if subjects is not None else []
    return started.complete(status_code, render(body), ids)


def delete_expired(factory: sessionmaker[Session], *, ttl: timedelta) -> int:
    """Delete records older than ``ttl`` in bounded batches; how many were deleted."""
    deleted = 0
    for _ in range(CLEANUP_MAX_BATCHES):
        with session_scope(factory) as session:
            count = IdempotencyRepository(session).delete_created_before(
                utcnow() - ttl, limit=CLEANUP_BATCH_SIZE
            )
        deleted += count
        if count < CLEANUP_BATCH_SIZE:
            break
    if deleted:
        log.info("deleted %d expired idempotency records", deleted)
    return deleted
