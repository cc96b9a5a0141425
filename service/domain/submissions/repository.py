from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from service.db.models import GradingResult, Question, Submission
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions
from service.domain.submissions.schemas import SubmissionFilter


def _with_results(stmt: Select[Submission]) -> Select[Submission]:
    return stmt.options(
        selectinload(Submission.results).selectinload(GradingResult.rubric_version),
        selectinload(Submission.question),
    )


# Pending submissions have no points; sorting treats them as -1 so that the keyset is total
# and behaves the same on SQLite (NULLs first) and PostgreSQL (NULLs last).
_points_sort_key = func.coalesce(Submission.points, -1.0)


def _where(filters: SubmissionFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.question_id is not None:
        # The public id; the repository's scope makes it unique (one organisation).
        named = select(Question.id).where(Question.slug == filters.question_id)
        conditions.append(Submission.question_id.in_(named))
    if filters.learner_id is not None:
        conditions.append(Submission.learner_id == filters.learner_id)
    if filters.status is not None:
        conditions.append(Submission.status == filters.status)
    if filters.needs_review is not None:
        conditions.append(Submission.needs_review.is_(filters.needs_review))
    if filters.min_points is not None:
        conditions.append(Submission.points >= filters.min_points)
    if filters.max_points is not None:
        conditions.append(Submission.points <= filters.max_points)
    if filters.created_after is not None:
        conditions.append(Submission.created_at >= filters.created_after)
    if filters.created_before is not None:
        conditions.append(Submission.created_at < filters.created_before)
    if filters.api_key_id is not None:
        conditions.append(Submission.api_key_id == filters.api_key_id)
    return conditions


def _keyset(sort: str, after: tuple[datetime, uuid.UUID, float | None]) -> ColumnElement[bool]:
    created_at, last_id, points = after
    descending = sort.startswith("-")

    def beyond(column: Any, value: object) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = column < value if descending else column > value
        return condition

    same_time = and_(Submission.created_at == created_at, beyond(Submission.id, last_id))
    by_time = or_(beyond(Submission.created_at, created_at), same_time)
    if sort.lstrip("-") != "points":
        return by_time
    points_key = -1.0 if points is None else points
    return or_(beyond(_points_sort_key, points_key), and_(_points_sort_key == points_key, by_time))


def _order(sort: str) -> list[ColumnElement[Any]]:
    descending = sort.startswith("-")
    columns: list[ColumnElement[Any]] = []
    if sort.lstrip("-") == "points":
        columns.append(_points_sort_key)
    columns += [Submission.created_at.expression, Submission.id.expression]
    return [c.desc() if descending else c.asc() for c in columns]


class SubmissionRepository:
    """Submissions within a scope (organisation, courses, and for an integration the
    submissions it posted)."""

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

    def add(self, obj: Submission | GradingResult) -> None:
        self.session.add(obj)

    def get(self, submission_id: uuid.UUID) -> Submission | None:
        stmt = _with_results(
            select(Submission).where(Submission.id == submission_id, *self._scope())
        )
        return self.session.scalars(stmt).first()

    def get_by_feedback_token(self, token_hash: str) -> Submission | None:
        """By the SHA-256 of the link's token (the only form the database keeps)."""
        stmt = _with_results(
            select(Submission).where(Submission.feedback_token_hash == token_hash, *self._scope())
        )
        return self.session.scalars(stmt).first()

    def list_page(
        self,
        filters: SubmissionFilter,
        *,
        after: tuple[datetime, uuid.UUID, float | None] | None,
        limit: int,
    ) -> Sequence[Submission]:
        stmt = select(Submission).where(*_where(filters), *self._scope())
        if after is not None:
            stmt = stmt.where(_keyset(filters.sort, after))
        stmt = stmt.order_by(*_order(filters.sort)).limit(limit)
        return self.session.scalars(_with_results(stmt)).all()

    def iterate(self, filters: SubmissionFilter, *, batch_size: int = 500) -> Iterator[Submission]:
        """Every matching submission in ``filters.sort`` order, a page at a time."""
        after: tuple[datetime, uuid.UUID, float | None] | None = None
        while True:
            page = self.list_page(filters, after=after, limit=batch_size)
            yield from page
            if len(page) < batch_size:
                return
            last = page[-1]
            after = (last.created_at, last.id, last.points)
            self.session.expunge_all()

    def overridden_answers(self, question: Question) -> list[tuple[str, float]]:
        """(answer, effective points) of the question's submissions an instructor overrode."""
        stmt = (
            select(Submission.answer, Submission.points)
            .where(
                *self._scope(),
                Submission.question_id == question.id,
                Submission.is_overridden.is_(True),
                Submission.points.is_not(None),
            )
            .order_by(Submission.created_at)
        )
        return [
            (answer, points) for answer, points in self.session.execute(stmt) if points is not None
        ]

    def claim_due_pending(
        self, *, now: datetime, limit: int, ignore_backoff: bool = False
    ) -> Sequence[Submission]:
        """Pending submissions whose next scoring try is due, oldest due first, row-locked
        (``SKIP LOCKED`` on PostgreSQL, so concurrent workers claim different ones; SQLite
        serialises writers). Rows without a next time (older data) are due at once."""
        due = func.coalesce(Submission.next_scoring_at, Submission.created_at)
        stmt = select(Submission).where(Submission.status == "pending", *self._scope())
        if not ignore_backoff:
            stmt = stmt.where(
                or_(Submission.next_scoring_at.is_(None), Submission.next_scoring_at <= now)
            )
        stmt = stmt.order_by(due, Submission.id).limit(limit).with_for_update(skip_locked=True)
        return self.session.scalars(stmt).all()
