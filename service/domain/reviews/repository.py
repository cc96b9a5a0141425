from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, selectinload

from service.db.models import GradingResult, Question, ScoreOverride, Submission


class ReviewRepository:
    """Overrides of a submission. Methods take the ``Submission`` itself, which only a
    scoped ``SubmissionRepository`` hands out, so overrides are reached within a scope."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, override: ScoreOverride) -> None:
        self.session.add(override)

    def overrides_of(self, submission: Submission) -> Sequence[ScoreOverride]:
        stmt = (
            select(ScoreOverride)
            .where(ScoreOverride.submission_id == submission.id)
            .options(selectinload(ScoreOverride.api_key))
            .order_by(ScoreOverride.id)
        )
        return self.session.scalars(stmt).all()

    def overrides_of_many(self, submission_ids: Sequence[uuid.UUID]) -> Sequence[ScoreOverride]:
        """The overrides of these submissions (already reached within a scope), oldest first."""
        found: list[ScoreOverride] = []
        ids = list(submission_ids)
        for start in range(0, len(ids), 500):  # bounded IN lists
            stmt = (
                select(ScoreOverride)
                .where(ScoreOverride.submission_id.in_(ids[start : start + 500]))
                .order_by(ScoreOverride.id)
            )
            found.extend(self.session.scalars(stmt).all())
        return found


@dataclass(frozen=True)
class PointTotals:
    submissions: int
    pending: int
    needs_review: int
    overridden: int
    with_points: int
    total: float
    total_squares: float
    lowest: float | None
    highest: float | None
    override_difference_sum: float
    override_difference_count: int


class QuestionStatsRepository:
    """Aggregates of one question's submissions, computed by the database over the
    (question_id, ...) indexes: their cost does not grow with the rows Python touches."""

    def __init__(self, session: Session, question: Question) -> None:
        self.session = session
        self.question = question

    def _of_question(self) -> ColumnElement[bool]:
        return Submission.question_id == self.question.id

    def totals(self) -> PointTotals:
        has_points = Submission.points.is_not(None)
        difference = Submission.points - Submission.machine_points
        overridden_with_both = and_(
            Submission.is_overridden.is_(True),
            Submission.machine_points.is_not(None),
            has_points,
        )
        row = self.session.execute(
            select(
                func.count(),
                func.count().filter(Submission.status == "pending"),
                func.count().filter(Submission.needs_review.is_(True)),
                func.count().filter(Submission.is_overridden.is_(True)),
                func.count(Submission.points),
                func.coalesce(func.sum(Submission.points), 0.0),
                func.coalesce(func.sum(Submission.points * Submission.points), 0.0),
                func.min(Submission.points),
                func.max(Submission.points),
                func.coalesce(func.sum(difference).filter(overridden_with_both), 0.0),
                func.count().filter(overridden_with_both),
            ).where(self._of_question())
        ).one()
        return PointTotals(
            submissions=int(row[0]),
            pending=int(row[1]),
            needs_review=int(row[2]),
            overridden=int(row[3]),
            with_points=int(row[4]),
            total=float(row[5] or 0),
            total_squares=float(row[6] or 0),
            lowest=row[7],
            highest=row[8],
            override_difference_sum=float(row[9] or 0),
            override_difference_count=int(row[10]),
        )

    def distribution(self) -> list[tuple[float, int]]:
        rows = self.session.execute(
            select(Submission.points, func.count())
            .where(self._of_question(), Submission.points.is_not(None))
            .group_by(Submission.points)
            .order_by(Submission.points)
        ).all()
        return [(float(points or 0), int(count)) for points, count in rows]

    def latest_details(self, limit: int) -> Sequence[dict[str, Any]]:
        """The details of the newest results of the question's ``limit`` newest scored
        submissions (for criterion hit rates over a bounded sample)."""
        newest = (
            select(Submission.id)
            .where(self._of_question(), Submission.status == "scored")
            .order_by(Submission.created_at.desc(), Submission.id.desc())
            .limit(limit)
            .subquery()
        )
        latest = (
            select(func.max(GradingResult.id))
            .where(GradingResult.submission_id.in_(select(newest.c.id)))
            .group_by(GradingResult.submission_id)
        )
        return self.session.scalars(
            select(GradingResult.details).where(GradingResult.id.in_(latest))
        ).all()
