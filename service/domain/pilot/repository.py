"""The pilot's reads: a question's newest scored answers with their machine results, and
the machine and teacher points of the answers a teacher graded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import GradingResult, Question, Submission


@dataclass(frozen=True)
class AnswerRow:
    submission_id: uuid.UUID
    answer: str
    machine_points: float
    max_points: float
    points: float | None  # effective points: the teacher's when ``is_overridden``
    is_overridden: bool
    result_id: int | None  # the newest machine result (a rescore makes a new one)
    confidence: float | None
    met: frozenset[str]  # ids of the criteria the newest machine result found met


@dataclass(frozen=True)
class GradedPair:
    machine_points: float
    points: float
    max_points: float


class PilotRepository:
    """Reads of one question's submissions. It takes the ``Question`` a scoped
    ``QuestionRepository`` handed out, so it stays within the caller's scope."""

    def __init__(self, session: Session, question: Question) -> None:
        self.session = session
        self.question = question

    def newest_scored(self, limit: int) -> list[AnswerRow]:
        """The ``limit`` newest scored answers, each with its newest machine result."""
        submissions = self.session.execute(
            select(
                Submission.id,
                Submission.answer,
                Submission.machine_points,
                Submission.max_points,
                Submission.points,
                Submission.is_overridden,
            )
            .where(
                Submission.question_id == self.question.id,
                Submission.status == "scored",
                Submission.machine_points.is_not(None),
                Submission.max_points > 0,
            )
            .order_by(Submission.created_at.desc(), Submission.id.desc())
            .limit(limit)
        ).all()
        if not submissions:
            return []
        ids = [row.id for row in submissions]
        latest = (
            select(func.max(GradingResult.id))
            .where(GradingResult.submission_id.in_(ids))
            .group_by(GradingResult.submission_id)
        )
        results = {
            submission_id: (result_id, confidence, details)
            for result_id, submission_id, confidence, details in self.session.execute(
                select(
                    GradingResult.id,
                    GradingResult.submission_id,
                    GradingResult.confidence,
                    GradingResult.details,
                ).where(GradingResult.id.in_(latest))
            )
        }
        rows = []
        for row in submissions:
            result_id, confidence, details = results.get(row.id, (None, None, {}))
            criteria = details.get("criteria", []) if isinstance(details, dict) else []
            rows.append(
                AnswerRow(
                    submission_id=row.id,
                    answer=row.answer,
                    machine_points=float(row.machine_points),
                    max_points=float(row.max_points),
                    points=row.points,
                    is_overridden=bool(row.is_overridden),
                    result_id=result_id,
                    confidence=confidence,
                    met=frozenset(str(c.get("id")) for c in criteria if c.get("met")),
                )
            )
        return rows

    def graded_pairs(self, limit: int) -> list[GradedPair]:
        """Machine and teacher points of the ``limit`` newest answers a teacher graded."""
        rows = self.session.execute(
            select(Submission.machine_points, Submission.points, Submission.max_points)
            .where(
                Submission.question_id == self.question.id,
                Submission.is_overridden.is_(True),
                Submission.machine_points.is_not(None),
                Submission.points.is_not(None),
                Submission.max_points > 0,
            )
            .order_by(Submission.created_at.desc(), Submission.id.desc())
            .limit(limit)
        ).all()
        return [
            GradedPair(float(m), float(p), float(x))
            for m, p, x in rows
            if m is not None and p is not None and x is not None
        ]

    def graded_count(self) -> int:
        return int(
            self.session.scalar(
                select(func.count()).where(
                    Submission.question_id == self.question.id,
                    Submission.is_overridden.is_(True),
                )
            )
            or 0
        )
