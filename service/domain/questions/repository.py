from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from service.db.models import Question
from service.domain.access.principal import Scope
from service.domain.access.sql import scope_conditions


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
