from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from service.db.models import ApiKey, GroupingState, Question, RubricVersion
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions


@dataclass(frozen=True)
class SubmissionContext:
    question: Question
    version: RubricVersion
    poster: ApiKey | None
    # Whether the question's answers were ever grouped, and when the groups were last
    # marked stale (see grouping.repository.needs_mark).
    grouped: bool
    groups_stale_at: datetime | None


class QuestionRepository:
    """Questions within a scope. A question is named by its slug, unique per organisation;
    other repositories take the ``Question`` found here, so they stay within the scope."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _where(self) -> list[ColumnElement[bool]]:
        return scope_conditions(
            self.scope, organization=Question.organization_id, course=Question.course_id
        )

    def get(self, question_id: str) -> Question | None:
        """By internal id (background work holding a reference)."""
        stmt = select(Question).where(Question.id == question_id, *self._where())
        return self.session.scalars(stmt.options(selectinload(Question.course))).first()

    def get_by_slug(self, slug: str) -> Question | None:
        if self.scope.organization_id is None:
            raise ValueError("a slug names a question only within one organisation")
        stmt = select(Question).where(Question.slug == slug, *self._where())
        return self.session.scalars(stmt.options(selectinload(Question.course))).first()

    def get_for_submission(
        self, slug: str, api_key_id: uuid.UUID | None
    ) -> SubmissionContext | None:
        """The question, its current rubric version, the posting key and the answer groups'
        staleness, in one statement: what storing and scoring a submission reads (the key
        row says whether a callback is due, and is read fresh, unlike the cached
        authentication)."""
        if self.scope.organization_id is None:
            raise ValueError("a slug names a question only within one organisation")
        current = and_(
            RubricVersion.question_id == Question.id,
            RubricVersion.version == Question.rubric_version,
        )
        stmt = (
            select(
                Question, RubricVersion, ApiKey, GroupingState.question_id, GroupingState.stale_at
            )
            .join(RubricVersion, current)
            # A left join on the key's id alone: at most one row, and the question is found
            # even when the caller has no key row (None).
            .outerjoin(ApiKey, ApiKey.id == api_key_id)
            .outerjoin(GroupingState, GroupingState.question_id == Question.id)
            .where(Question.slug == slug, *self._where())
            .options(joinedload(Question.course))
        )
        row = self.session.execute(stmt).unique().first()
        if row is None:
            return None
        return SubmissionContext(row[0], row[1], row[2], row[3] is not None, row[4])

    def list_all(self) -> Sequence[Question]:
        stmt = (
            select(Question)
            .where(*self._where())
            .options(selectinload(Question.course))
            .order_by(Question.slug, Question.id)
        )
        return self.session.scalars(stmt).all()

    def add(self, question: Question) -> None:
        self.session.add(question)
