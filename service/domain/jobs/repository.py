from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from service.db.models import Question, RescoreJob, Submission
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions


class JobRepository:
    """Rescoring jobs within a scope (the job carries its question's organisation and course)."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _where(self) -> list[ColumnElement[bool]]:
        return scope_conditions(
            self.scope, organization=RescoreJob.organization_id, course=RescoreJob.course_id
        )

    def add(self, job: RescoreJob) -> None:
        self.session.add(job)

    def get(self, job_id: uuid.UUID) -> RescoreJob | None:
        stmt = (
            select(RescoreJob)
            .where(RescoreJob.id == job_id, *self._where())
            .options(selectinload(RescoreJob.rubric_version), selectinload(RescoreJob.question))
        )
        return self.session.scalars(stmt).first()

    def count_submissions(self, question: Question) -> int:
        stmt = (
            select(func.count())
            .select_from(Submission)
            .where(Submission.question_id == question.id)
        )
        return self.session.scalar(stmt) or 0
