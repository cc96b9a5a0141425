from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import Question


class QuestionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, question_id: str) -> Question | None:
        return self.session.get(Question, question_id)

    def list_all(self) -> Sequence[Question]:
        return self.session.scalars(select(Question).order_by(Question.id)).all()
