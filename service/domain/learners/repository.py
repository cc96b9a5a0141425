"""SQL for one learner's data within an organisation, and for retention."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, String, delete, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, selectinload

from service.db.base import utcnow
from service.db.models import (
    ApiKey,
    AuditEvent,
    CallbackDelivery,
    GradingResult,
    IdempotencyRecord,
    ScoreOverride,
    Submission,
)
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions
from service.domain.grouping import repository as grouping_repository

# Ids per IN (...) / LIKE group: well below SQLite's and PostgreSQL's parameter limits.
_CHUNK = 200


def _chunks(ids: Sequence[uuid.UUID]) -> list[Sequence[uuid.UUID]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _deleted(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class LearnerRepository:
    """A learner's rows in one organisation (the scope's). Learner ids are unique only
    within an organisation, so every statement filters on it."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _scope(self) -> list[ColumnElement[bool]]:
        return scope_conditions(
            self.scope,
            organization=Submission.organization_id,
            course=Submission.course_id,
            submitted_by=Submission.api_key_id,
        )

    def submissions(self, learner_id: str) -> Sequence[Submission]:
        stmt = (
            select(Submission)
            .where(Submission.learner_id == learner_id, *self._scope())
            .options(
                selectinload(Submission.results).selectinload(GradingResult.rubric_version),
                selectinload(Submission.question),
            )
            .order_by(Submission.created_at, Submission.id)
        )
        return self.session.scalars(stmt).all()

    def overrides(self, submission_ids: Sequence[uuid.UUID]) -> Sequence[ScoreOverride]:
        rows: list[ScoreOverride] = []
        for chunk in _chunks(submission_ids):
            stmt = select(ScoreOverride).where(ScoreOverride.submission_id.in_(chunk))
            rows.extend(self.session.scalars(stmt.order_by(ScoreOverride.id)))
        return rows

    def deliveries(self, submission_ids: Sequence[uuid.UUID]) -> Sequence[CallbackDelivery]:
        rows: list[CallbackDelivery] = []
        for chunk in _chunks(submission_ids):
            stmt = select(CallbackDelivery).where(CallbackDelivery.submission_id.in_(chunk))
            rows.extend(self.session.scalars(stmt.order_by(CallbackDelivery.created_at)))
        return rows

    def idempotency_records_mentioning(
        self, submission_ids: Sequence[uuid.UUID]
    ) -> Sequence[IdempotencyRecord]:
        """Records of the organisation's keys whose response names one of the ids.

        ``submission_ids`` is a JSON list of id strings (one for a single POST, several for
        a batch); the LIKE is a portable pre-filter on its text, and the caller confirms
        each candidate on the parsed list.
        """
        keys = select(ApiKey.id).where(
            *scope_conditions(self.scope, organization=ApiKey.organization_id)
        )
        body_text = sql_cast(IdempotencyRecord.submission_ids, String)
        found: dict[int, IdempotencyRecord] = {}
        for chunk in _chunks(submission_ids):
            mentions = or_(*(body_text.like(f"%{submission_id}%") for submission_id in chunk))
            stmt = select(IdempotencyRecord).where(IdempotencyRecord.api_key_id.in_(keys), mentions)
            found |= {record.id: record for record in self.session.scalars(stmt)}
        return list(found.values())

    def add(self, obj: AuditEvent) -> None:
        self.session.add(obj)


class SubmissionDeletion:
    """Bulk deletes of submissions and everything that hangs off them, with counts.

    Explicit deletes rather than relying on ``ON DELETE CASCADE``: the counts go into the
    response and the audit row, and the order never depends on a foreign key setting.
    """

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _scope(self) -> list[ColumnElement[bool]]:
        return scope_conditions(
            self.scope, organization=Submission.organization_id, course=Submission.course_id
        )

    def delete(self, submission_ids: Sequence[uuid.UUID]) -> dict[str, int]:
        counts = {
            "callback_deliveries": 0,
            "score_overrides": 0,
            "grading_results": 0,
            "feedback_tokens": 0,
            "submissions": 0,
        }
        for chunk in _chunks(submission_ids):
            counts["callback_deliveries"] += self._run(
                delete(CallbackDelivery).where(CallbackDelivery.submission_id.in_(chunk))
            )
            counts["score_overrides"] += self._run(
                delete(ScoreOverride).where(ScoreOverride.submission_id.in_(chunk))
            )
            counts["grading_results"] += self._run(
                delete(GradingResult).where(GradingResult.submission_id.in_(chunk))
            )
            tokens = select(Submission.id).where(
                Submission.id.in_(chunk), Submission.feedback_token_hash.is_not(None)
            )
            counts["feedback_tokens"] += len(self.session.scalars(tokens).all())
            # Their answer groups lose members (the database drops those rows with them).
            asked = select(Submission.question_id).where(Submission.id.in_(chunk)).distinct()
            for question_id in self.session.scalars(asked).all():
                grouping_repository.mark_stale(self.session, question_id, now=utcnow())
            counts["submissions"] += self._run(
                delete(Submission).where(Submission.id.in_(chunk), *self._scope())
            )
        return counts

    def delete_idempotency_records(self, record_ids: Collection[int]) -> int:
        if not record_ids:
            return 0
        return self._run(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(record_ids)))

    def expired(self, cutoff: datetime, *, limit: int) -> Sequence[uuid.UUID]:
        """The oldest submissions created before ``cutoff``, at most ``limit`` (retention)."""
        stmt = (
            select(Submission.id)
            .where(Submission.created_at < cutoff, *self._scope())
            .order_by(Submission.created_at, Submission.id)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def add(self, obj: AuditEvent) -> None:
        self.session.add(obj)

    def _run(self, stmt: Any) -> int:
        return _deleted(
            self.session.execute(stmt, execution_options={"synchronize_session": False})
        )
