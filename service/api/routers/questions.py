from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.deps import SessionDep
from service.api.problems import ProblemDetail
from service.domain.questions import service as question_service
from service.domain.questions.schemas import QuestionList, QuestionRead
from service.domain.validation import SLUG_PATTERN

router = APIRouter(prefix="/v1/questions", tags=["questions"])


@router.get("", response_model=QuestionList, summary="List questions")
def list_questions(session: SessionDep) -> QuestionList:
    questions = question_service.list_questions(session)
    return QuestionList(items=[QuestionRead.model_validate(q) for q in questions])


@router.get(
    "/{question_id}",
    response_model=QuestionRead,
    summary="Get one question",
    responses={
        404: {"model": ProblemDetail, "description": "Unknown question"},
        422: {"model": ProblemDetail, "description": "Malformed question id"},
    },
)
def get_question(
    question_id: Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)], session: SessionDep
) -> QuestionRead:
    return QuestionRead.model_validate(question_service.get_question(session, question_id))
