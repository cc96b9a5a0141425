from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import Question, RubricVersion


class RubricRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get_question(self, question_id: str) -> Question | None:
        return self.session.get(Question, question_id)

    def latest_version(
        self, question_id: str, *, source: str | None = None
    ) -> RubricVersion | None:
        stmt = select(RubricVersion).where(RubricVersion.question_id == question_id)
        if source is not None:
            stmt = stmt.where(RubricVersion.source == source)
        return self.session.scalars(stmt.order_by(RubricVersion.version.desc()).limit(1)).first()

    def get_version(self, question_id: str, version: int) -> RubricVersion | None:
        stmt = select(RubricVersion).where(
            RubricVersion.question_id == question_id, RubricVersion.version == version
        )
        return self.session.scalars(stmt).first()

    def max_version(self, question_id: str) -> int:
        stmt = select(func.max(RubricVersion.version)).where(
            RubricVersion.question_id == question_id
        )
        return self.session.scalar(stmt) or 0

    def list_versions(self, question_id: str) -> Sequence[RubricVersion]:
        stmt = (
            select(RubricVersion)
            .where(RubricVersion.question_id == question_id)
            .order_by(RubricVersion.version)
        )
        return self.session.scalars(stmt).all()

    def add(self, obj: Question | RubricVersion) -> None:
        self.session.add(obj)
