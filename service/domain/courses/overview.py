"""The console's home: the courses and questions a caller may see, with their counts.

One grouped query over the submission table's (question_id, ...) index, however large
the classes: the home page costs the same with 100 or 100,000 answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import Course, Question, Submission
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions


@dataclass(frozen=True)
class QuestionSummary:
    slug: str
    title: str
    max_points: float
    submissions: int
    needs_review: int
    last_activity: datetime | None


@dataclass(frozen=True)
class CourseSummary:
    id: uuid.UUID
    slug: str
    title: str
    questions: list[QuestionSummary]

    @property
    def submissions(self) -> int:
        return sum(q.submissions for q in self.questions)

    @property
    def needs_review(self) -> int:
        return sum(q.needs_review for q in self.questions)


class OverviewRepository:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def courses(self) -> list[CourseSummary]:
        stats = (
            select(
                Submission.question_id,
                func.count(),
                func.count().filter(Submission.needs_review.is_(True)),
                func.max(Submission.created_at),
            )
            .where(
                *scope_conditions(
                    self.scope,
                    organization=Submission.organization_id,
                    course=Submission.course_id,
                )
            )
            .group_by(Submission.question_id)
        )
        by_question = {
            row[0]: (int(row[1]), int(row[2] or 0), row[3]) for row in self.session.execute(stats)
        }
        course_rows = self.session.scalars(
            select(Course)
            .where(
                *scope_conditions(self.scope, organization=Course.organization_id, course=Course.id)
            )
            .order_by(Course.is_default.desc(), Course.title, Course.slug)
        ).all()
        questions = self.session.scalars(
            select(Question)
            .where(
                *scope_conditions(
                    self.scope, organization=Question.organization_id, course=Question.course_id
                )
            )
            .order_by(Question.slug)
        ).all()
        grouped: dict[uuid.UUID, list[QuestionSummary]] = {c.id: [] for c in course_rows}
        for question in questions:
            submissions, review, last = by_question.get(question.id, (0, 0, None))
            grouped.setdefault(question.course_id, []).append(
                QuestionSummary(
                    slug=question.slug,
                    title=question.title,
                    max_points=question.max_points,
                    submissions=submissions,
                    needs_review=review,
                    last_activity=last,
                )
            )
        return [
            CourseSummary(id=c.id, slug=c.slug, title=c.title, questions=grouped[c.id])
            for c in course_rows
        ]
