from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.db.models import Question
from service.domain.questions.repository import QuestionRepository
from service.errors import NotFound


def list_questions(session: Session) -> Sequence[Question]:
    return QuestionRepository(session).list_all()


def get_question(session: Session, question_id: str) -> Question:
    question = QuestionRepository(session).get(question_id)
    if question is None:
        raise NotFound(f"No question with id {question_id!r}.")
    return question
