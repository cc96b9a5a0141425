"""The outbox queries: what is due, claiming it with row locks, cancelling a key's queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.db.models import CallbackDelivery

PENDING = "pending"
CANCELLED = "cancelled"


class CallbackRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, delivery: CallbackDelivery) -> None:
        self.session.add(delivery)

    def get_for_update(self, delivery_id: uuid.UUID) -> CallbackDelivery | None:
        return self.session.get(CallbackDelivery, delivery_id, with_for_update=True)

    def list_for_owner(self, api_key_id: uuid.UUID, *, limit: int) -> Sequence[CallbackDelivery]:
        stmt = (
            select(CallbackDelivery)
            .where(CallbackDelivery.api_key_id == api_key_id)
            .order_by(CallbackDelivery.created_at.desc(), CallbackDelivery.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def due_urls(self, now: datetime, *, limit: int) -> Sequence[str]:
        """Destinations with due deliveries, longest waiting first.

        Claiming per destination (rather than the oldest N rows) keeps a receiver with a
        long backlog from filling every round and starving the others.
        """
        oldest = func.min(CallbackDelivery.next_attempt_at)
        stmt = (
            select(CallbackDelivery.url)
            .where(CallbackDelivery.status == PENDING, CallbackDelivery.next_attempt_at <= now)
            .group_by(CallbackDelivery.url)
            .order_by(oldest)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def claim_due(self, url: str, now: datetime, *, limit: int) -> Sequence[CallbackDelivery]:
        stmt = (
            select(CallbackDelivery)
            .where(
                CallbackDelivery.url == url,
                CallbackDelivery.status == PENDING,
                CallbackDelivery.next_attempt_at <= now,
            )
            .order_by(CallbackDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(stmt).all()

    def cancel_pending(self, api_key_id: uuid.UUID) -> int:
        """Cancel every queued delivery of ``api_key_id``; returns how many."""
        stmt = (
            update(CallbackDelivery)
            .where(CallbackDelivery.api_key_id == api_key_id, CallbackDelivery.status == PENDING)
            .values(status=CANCELLED)
            .execution_options(synchronize_session=False)
        )
        result = self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)
