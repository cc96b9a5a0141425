"""Idempotent POSTs: a retry with the same ``Idempotency-Key`` replays the first response.

The record is inserted *before* the work, inside the request's transaction. A concurrent
retry then waits on the unique (key owner, key) index until the first transaction commits,
fails to insert, and replays the committed response; if the first transaction rolls back,
the retry does the work itself. Either way the work happens once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.models import ApiKey, IdempotencyRecord
from service.errors import DomainError

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool


def fingerprint(method: str, path: str, canonical_body: str) -> str:
    """What makes two requests "the same": method, path and the validated body."""
    return hashlib.sha256(f"{method} {path}\n{canonical_body}".encode()).hexdigest()


def _find(session: Session, owner: ApiKey, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == owner.id, IdempotencyRecord.key == key
    )
    return session.scalars(stmt).first()


def _replay(record: IdempotencyRecord, request_hash: str) -> Outcome:
    if record.request_hash != request_hash or record.status_code is None:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request."
        )
    return Outcome(record.status_code, record.response_body, replayed=True)


def run(
    session: Session,
    *,
    owner: ApiKey,
    key: str | None,
    request_hash: str,
    action: Callable[[], tuple[int, Any]],
) -> Outcome:
    """Run ``action`` once per (owner, key); without a key, just run it."""
    if key is None:
        status_code, body = action()
        return Outcome(status_code, body, replayed=False)
    existing = _find(session, owner, key)
    if existing is not None:
        return _replay(existing, request_hash)
    record = IdempotencyRecord(api_key_id=owner.id, key=key, request_hash=request_hash)
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        winner = _find(session, owner, key)
        if winner is None:  # the other request rolled back after all: nothing to replay
            raise
        return _replay(winner, request_hash)
    status_code, body = action()
    record.status_code = status_code
    record.response_body = body
    session.flush()
    return Outcome(status_code, body, replayed=False)
