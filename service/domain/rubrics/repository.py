from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import Question, RubricVersion


class RubricRepository:
    """Rubric versions of a question. Methods take the ``Question`` itself, which only a
    scoped ``QuestionRepository`` hands out, so versions are reached within a scope."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def latest_version(
        self, question: Question, *, source: str | None = None
    ) -> RubricVersion | None:
        stmt = select(RubricVersion).where(RubricVersion.question_id == question.id)
        if source is not None:
            stmt = stmt.where(RubricVersion.source == source)
        return self.session.scalars(stmt.order_by(RubricVersion.version.desc()).limit(1)).first()

    def get_version(self, question: Question, version: int) -> RubricVersion | None:
        stmt = select(RubricVersion).where(
            RubricVersion.question_id == question.id, RubricVersion.version == version
        )
        return self.session.scalars(stmt).first()

    def max_version(self, question: Question) -> int:
        stmt = select(func.max(RubricVersion.version)).where(
            RubricVersion.question_id == question.id
        )
        return self.session.scalar(stmt) or 0

    def list_versions(self, question: Question) -> Sequence[RubricVersion]:
        stmt = (
            select(RubricVersion)
            .where(RubricVersion.question_id == question.id)
            .order_by(RubricVersion.version)
        )
        return self.session.scalars(stmt).all()

    def add(self, obj: Question | RubricVersion) -> None:
        self.session.add(obj)
