"""Signed callbacks to integrations: an outbox written with the change, delivered later.

``enqueue`` runs inside the transaction that scores, rescores or overrides a submission,
so an event exists exactly when its change was committed. ``deliver_due`` is called by the
worker: it claims due rows, POSTs them without holding a transaction open, and records the
attempt, retrying with exponential backoff until ``max_attempts``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.models import ApiKey, CallbackDelivery, Submission
from service.db.session import session_scope

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Grader-Signature"
EVENTS = ("submission.scored", "submission.rescored", "submission.overridden")


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 3600.0
    timeout_seconds: float = 5.0
    # While a worker is POSTing, the row is hidden from other workers for this long.
    claim_seconds: float = 60.0
    batch_size: int = 50

    def delay_after(self, attempts: int) -> float:
        return float(min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempts - 1)))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``; the timestamp stops replays."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300) -> bool:
    """What a receiver does (and our tests do): recompute and compare in constant time."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def enqueue(
    session: Session, submission: Submission, *, event: str, payload: dict[str, Any]
) -> CallbackDelivery | None:
    """Queue ``event`` for the integration that posted ``submission``, if it has a callback."""
    if submission.api_key_id is None:
        return None
    owner = session.get(ApiKey, submission.api_key_id)
    if owner is None or not owner.is_active or not owner.callback_url:
        return None
    delivery = CallbackDelivery(
        organization_id=submission.organization_id,
        api_key_id=owner.id,
        submission_id=submission.id,
        event=event,
        url=owner.callback_url,
        payload={"event": event, "submission": payload},
        attempt_log=[],
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    return delivery


def list_deliveries(session: Session, owner: ApiKey, *, limit: int) -> Sequence[CallbackDelivery]:
    stmt = (
        select(CallbackDelivery)
        .where(CallbackDelivery.api_key_id == owner.id)
        .order_by(CallbackDelivery.created_at.desc(), CallbackDelivery.id.desc())
        .limit(limit)
    )
    return session.scalars(stmt).all()


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    url: str
    body: bytes
    secret: str
    event: str


def _claim(factory: sessionmaker[Session], policy: DeliveryPolicy) -> list[_Claimed]:
    now = utcnow()
    with session_scope(factory) as session:
        stmt = (
            select(CallbackDelivery)
            .where(CallbackDelivery.status == "pending", CallbackDelivery.next_attempt_at <= now)
            .order_by(CallbackDelivery.next_attempt_at)
            .limit(policy.batch_size)
            .with_for_update(skip_locked=True)
        )
        claimed = []
        for delivery in session.scalars(stmt).all():
            owner = session.get(ApiKey, delivery.api_key_id)
            delivery.next_attempt_at = now + timedelta(seconds=policy.claim_seconds)
            body = json.dumps(
                {"id": str(delivery.id), **delivery.payload}, separators=(",", ":")
            ).encode()
            claimed.append(
                _Claimed(
                    delivery.id,
                    delivery.url,
                    body,
                    (owner and owner.callback_secret) or "",
                    delivery.event,
                )
            )
        return claimed


def _post(client: httpx.Client, item: _Claimed) -> tuple[int | None, str | None]:
    headers = {
        "Content-Type": "application/json",
        "X-Grader-Event": item.event,
        "X-Grader-Delivery": str(item.id),
        SIGNATURE_HEADER: sign(item.secret, int(time.time()), item.body),
    }
    try:
        response = client.post(item.url, content=item.body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _record(
    factory: sessionmaker[Session],
    item: _Claimed,
    status_code: int | None,
    error: str | None,
    policy: DeliveryPolicy,
) -> None:
    with session_scope(factory) as session:
        delivery = session.get(CallbackDelivery, item.id)
        if delivery is None:
            return
        now = utcnow()
        delivery.attempts += 1
        delivery.attempt_log = [
            *delivery.attempt_log,
            {"at": now.isoformat(), "status_code": status_code, "error": error},
        ]
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = now
        elif delivery.attempts >= policy.max_attempts:
            delivery.status = "failed"
            log.warning("callback %s failed after %d attempts", delivery.id, delivery.attempts)
        else:
            delay = policy.delay_after(delivery.attempts)
            delivery.next_attempt_at = now + timedelta(seconds=delay)


def deliver_due(
    factory: sessionmaker[Session],
    *,
    policy: DeliveryPolicy,
    client_factory: Callable[[], httpx.Client] | None = None,
) -> int:
    """Deliver what is due now; returns how many were attempted."""
    claimed = _claim(factory, policy)
    if not claimed:
        return 0
    make_client = client_factory or (lambda: httpx.Client(timeout=policy.timeout_seconds))
    with make_client() as client:
        for item in claimed:
            status_code, error = _post(client, item)
            _record(factory, item, status_code, error, policy)
    return len(claimed)
