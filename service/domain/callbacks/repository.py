"""The outbox queries: what is due, claiming it with row locks, cancelling a key's queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.db.models import CallbackDelivery, Submission

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

    def supersede_scores(self, url: str, learner_id: str, organization_id: uuid.UUID) -> int:
        """Cancel the learner's queued gradebook scores for the line item at ``url``; returns
        how many. A new Score replaces them (it is computed from every attempt), and the
        platform refuses an older one that lands after it, so they need not be sent."""
        older = (
            select(CallbackDelivery.id)
            .join(Submission, Submission.id == CallbackDelivery.submission_id)
            .where(
                CallbackDelivery.url == url,
                CallbackDelivery.channel == "lti_score",
                CallbackDelivery.status == PENDING,
                CallbackDelivery.organization_id == organization_id,
                Submission.learner_id == learner_id,
            )
        )
        stmt = (
            update(CallbackDelivery)
            .where(CallbackDelivery.id.in_(older.scalar_subquery()))
            .values(status=CANCELLED)
            .execution_options(synchronize_session=False)
        )
        result = self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    def has_newer_score(self, delivery: CallbackDelivery) -> bool:
        """Whether a gradebook score for the same learner and line item was queued after
        ``delivery`` (so the platform refusing ``delivery`` as older is expected)."""
        learner = select(Submission.learner_id).where(Submission.id == delivery.submission_id)
        stmt = (
            select(CallbackDelivery.id)
            .join(Submission, Submission.id == CallbackDelivery.submission_id)
            .where(
                CallbackDelivery.url == delivery.url,
                CallbackDelivery.channel == "lti_score",
                CallbackDelivery.id != delivery.id,
                CallbackDelivery.created_at >= delivery.created_at,
                Submission.learner_id == learner.scalar_subquery(),
            )
            .limit(1)
        )
        return self.session.scalar(stmt) is not None

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
