from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from service.api.deps import Instructor, SessionDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND
from service.domain.jobs import service as job_service
from service.domain.jobs.schemas import JobRead
from service.domain.questions import service as question_service
from service.domain.questions.schemas import QuestionList, QuestionRead
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import QuestionStats
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.schemas import (
    CalibrateRequest,
    CalibrationRead,
    RubricSaved,
    RubricVersionList,
    RubricVersionRead,
)
from service.domain.validation import SLUG_PATTERN
from service.scoring.calibration import MIN_EXAMPLES

router = APIRouter(prefix="/v1/questions", tags=["questions"], responses=AUTH_ERRORS)

QuestionId = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ProblemDetail, "description": "A question with this id exists"}
}

_RUBRIC_EXAMPLE = {
    "id": "photosynthesis-1",
    "title": "What photosynthesis makes",
    "prompt": "What do plants make in photosynthesis, and from what?",
    "max_points": 4,
    "score_step": 0.5,
    "reference_answers": [
        "Plants use light energy to turn carbon dioxide and water into glucose and oxygen."
    ],
    "criteria": [
        {
            "id": "products",
            "description": "Names glucose (sugar) and oxygen as the products",
            "weight": 2,
            "phrasings": ["glucose", "sugar", "oxygen"],
            "feedback": {"hit": "You named the products.", "miss": "What does the plant make?"},
        }
    ],
}


@router.get("", response_model=QuestionList, summary="List questions (instructor)")
def list_questions(session: SessionDep, _principal: Instructor) -> QuestionList:
    questions = question_service.list_questions(session)
    return QuestionList(items=[QuestionRead.model_validate(q) for q in questions])


@router.post(
    "",
    status_code=201,
    response_model=RubricSaved,
    summary="Create a question with its rubric (instructor)",
    responses=CONFLICT,
)
def create_question(
    session: SessionDep,
    _principal: Instructor,
    body: Annotated[dict[str, Any], Body(examples=[_RUBRIC_EXAMPLE])],
) -> RubricSaved:
    """The body is a rubric document, as in `rubrics/*.yaml` (see the README)."""
    outcome = rubric_service.create_question(session, body)
    return RubricSaved(
        question_id=outcome.question_id, rubric_version=outcome.version, created=True
    )


@router.get(
    "/{question_id}", response_model=QuestionRead, summary="Get one question", responses=NOT_FOUND
)
def get_question(
    question_id: QuestionId, session: SessionDep, _principal: Instructor
) -> QuestionRead:
    return QuestionRead.model_validate(question_service.get_question(session, question_id))


@router.put(
    "/{question_id}/rubric",
    response_model=RubricSaved,
    summary="Save a new rubric version (instructor)",
    responses=NOT_FOUND,
)
def update_rubric(
    question_id: QuestionId,
    session: SessionDep,
    _principal: Instructor,
    body: Annotated[dict[str, Any], Body(examples=[_RUBRIC_EXAMPLE])],
) -> RubricSaved:
    """Old scores keep pointing at the version that produced them; rescore to apply it."""
    outcome = rubric_service.update_rubric(session, question_id, body)
    return RubricSaved(
        question_id=question_id, rubric_version=outcome.version, created=outcome.created
    )


@router.get(
    "/{question_id}/rubric-versions",
    response_model=RubricVersionList,
    summary="Every rubric version, oldest first (instructor)",
    responses=NOT_FOUND,
)
def list_rubric_versions(
    question_id: QuestionId, session: SessionDep, _principal: Instructor
) -> RubricVersionList:
    versions = rubric_service.list_versions(session, question_id)
    return RubricVersionList(
        question_id=question_id,
        items=[
            RubricVersionRead(
                version=v.version,
                content_hash=v.content_hash,
                source=v.source,
                created_at=v.created_at,
                rubric=v.content,
            )
            for v in versions
        ],
    )


@router.post(
    "/{question_id}/rescore",
    status_code=202,
    response_model=JobRead,
    summary="Rescore every submission with the current rubric, in the background (instructor)",
    responses=NOT_FOUND,
)
def rescore(question_id: QuestionId, session: SessionDep, principal: Instructor) -> JobRead:
    """Poll `GET /v1/jobs/{job_id}`. Overrides are never replaced."""
    job = job_service.create_rescore_job(session, question_id=question_id, principal=principal)
    return job_service.present_job(job)


@router.post(
    "/{question_id}/calibrate",
    response_model=CalibrationRead,
    summary="Learn from graded answers: a new rubric version, calibrated if enough (instructor)",
    responses=NOT_FOUND,
)
def calibrate(
    question_id: QuestionId, body: CalibrateRequest, session: SessionDep, _principal: Instructor
) -> CalibrationRead:
    """Graded answers (the instructor's overrides, and any sent here) become scored
    neighbours; with at least `min_examples` of them a calibration model is fitted too.
    Then `POST .../rescore` applies the new version to existing submissions."""
    outcome = rubric_service.calibrate(
        session, question_id, extra=body.graded_answers, use_overrides=body.use_overrides
    )
    return CalibrationRead(
        question_id=question_id,
        rubric_version=outcome.version,
        graded_answers=outcome.graded_answers,
        calibrated=outcome.calibrated,
        min_examples=MIN_EXAMPLES,
    )


@router.get(
    "/{question_id}/stats",
    response_model=QuestionStats,
    summary="How the question went (instructor)",
    responses=NOT_FOUND,
)
def stats(question_id: QuestionId, session: SessionDep, _principal: Instructor) -> QuestionStats:
    return review_service.question_stats(session, question_id)
