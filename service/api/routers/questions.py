from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from service.api.deps import GradersDep, Instructor, Reader, SessionDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND, problems
from service.db.base import utcnow
from service.domain.jobs import service as job_service
from service.domain.jobs.preview import preview_rescore
from service.domain.jobs.schemas import JobRead, RescorePreview
from service.domain.questions import service as question_service
from service.domain.questions.schemas import (
    FeedbackReleaseRead,
    FeedbackReleaseUpdate,
    QuestionList,
    QuestionPublicRead,
    QuestionRead,
)
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
from service.domain.submissions import release
from service.domain.validation import SLUG_PATTERN
from service.scoring.calibration import MIN_EXAMPLES
from service.scoring.pilot import MIN_TO_CALIBRATE

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


@router.get("", response_model=QuestionList, summary="List the questions you may see")
def list_questions(session: SessionDep, principal: Reader) -> QuestionList:
    """Lists the questions the key may see; changes nothing.

    Who: instructor, admin or integration. Staff see their courses' questions with course and
    rubric version; an integration its organisation's questions without them (never rubric
    internals).
    """
    questions = question_service.list_questions(session, principal.scope)
    return QuestionList(
        items=[question_service.present_question(q, full=principal.is_staff) for q in questions]
    )


@router.post(
    "",
    status_code=201,
    response_model=RubricSaved,
    summary="Create a question with its rubric (instructor)",
    responses=CONFLICT,
    openapi_extra=problems("rubric_invalid", "unprocessable", "not_found"),
)
def create_question(
    session: SessionDep,
    principal: Instructor,
    body: Annotated[dict[str, Any], Body(examples=[_RUBRIC_EXAMPLE])],
) -> RubricSaved:
    """Creates a question and its first rubric version from a rubric document.

    Who: instructor (in one of its courses) or admin. The body is a rubric document, as in
    `rubrics/*.yaml` (see the README), with an optional `course_id`: without one, the caller's
    only course or the organisation's default course. 409 `conflict` when the id is taken;
    422 `rubric_invalid` names the field that cannot be used.
    """
    outcome = question_service.create_question(session, principal, body)
    return RubricSaved(
        question_id=outcome.question_id, rubric_version=outcome.version, created=True
    )


@router.get(
    "/{question_id}",
    response_model=QuestionRead | QuestionPublicRead,
    summary="Get one question",
    responses=NOT_FOUND,
)
def get_question(
    question_id: QuestionId, session: SessionDep, principal: Reader
) -> QuestionRead | QuestionPublicRead:
    """Returns one question; changes nothing.

    Who: instructor, admin or integration. Staff get the full view (course, rubric version);
    an integration the public view. 404 when the question is not one the key may see.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    return question_service.present_question(question, full=principal.is_staff)


@router.put(
    "/{question_id}/rubric",
    response_model=RubricSaved,
    summary="Save a new rubric version (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("rubric_invalid"),
)
def update_rubric(
    question_id: QuestionId,
    session: SessionDep,
    principal: Instructor,
    body: Annotated[dict[str, Any], Body(examples=[_RUBRIC_EXAMPLE])],
) -> RubricSaved:
    """Saves the body as a new rubric version of the question (an identical body creates
    nothing: `created` is false).

    Who: instructor of the question's course, or admin. Old scores keep pointing at the version
    that produced them; `POST .../rescore` applies the new one.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    outcome = rubric_service.update_rubric(session, question, body)
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
    question_id: QuestionId, session: SessionDep, principal: Instructor
) -> RubricVersionList:
    """Lists every rubric version of the question, oldest first, with its content and
    hash; changes nothing.

    Who: instructor of the question's course, or admin.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    versions = rubric_service.list_versions(session, question)
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
    """Starts a background job that rescores every submission of the question with its current
    rubric version; answers 202 at once.

    Who: instructor of the question's course, or admin. Poll `GET /v1/jobs/{job_id}`. Machine
    scores get a new result; instructor overrides are never replaced.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    job = job_service.create_rescore_job(session, question=question, principal=principal)
    return job_service.present_job(job)


@router.post(
    "/{question_id}/rescore/preview",
    response_model=RescorePreview,
    summary="What rescoring would change, without changing anything (instructor)",
    responses=NOT_FOUND,
)
def rescore_preview(
    question_id: QuestionId, session: SessionDep, graders: GradersDep, principal: Instructor
) -> RescorePreview:
    """Reports what rescoring would change, without changing anything.

    Who: instructor of the question's course, or admin. Scores the newest 500 answers with the
    current rubric and reports how many scores would change, by how much, and whose.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    return preview_rescore(session, question, graders)


@router.post(
    "/{question_id}/calibrate",
    response_model=CalibrationRead,
    summary="Learn from graded answers: a new rubric version, calibrated if enough (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("rubric_invalid"),
)
def calibrate(
    question_id: QuestionId, body: CalibrateRequest, session: SessionDep, principal: Instructor
) -> CalibrationRead:
    """Learns from graded answers: saves a new rubric version with them as scored neighbours,
    and a fitted calibration model when there are at least `min_examples`: a few-shot map of
    the machine score from `min_examples`, the full model from `min_full_examples`.

    Who: instructor of the question's course, or admin. Graded answers are the instructor's
    overrides (unless `use_overrides` is false) and any sent in the body. Existing scores do
    not change until `POST .../rescore`.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    outcome = rubric_service.calibrate(
        session, question, extra=body.graded_answers, use_overrides=body.use_overrides
    )
    return CalibrationRead(
        question_id=question_id,
        rubric_version=outcome.version,
        graded_answers=outcome.graded_answers,
        calibrated=outcome.calibrated,
        calibration_kind=outcome.kind,
        min_examples=MIN_TO_CALIBRATE,
        min_full_examples=MIN_EXAMPLES,
    )


@router.get(
    "/{question_id}/stats",
    response_model=QuestionStats,
    summary="How the question went (instructor)",
    responses=NOT_FOUND,
)
def stats(question_id: QuestionId, session: SessionDep, principal: Instructor) -> QuestionStats:
    """Summarises how the question went: counts, score distribution, criteria hit and the review
    queue; changes nothing.

    Who: instructor of the question's course, or admin.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    return review_service.question_stats(session, question)


@router.put(
    "/{question_id}/feedback-release",
    response_model=FeedbackReleaseRead,
    summary="When students and integrations see scores and feedback (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("invalid_feedback_release"),
)
def set_feedback_release(
    question_id: QuestionId, body: FeedbackReleaseUpdate, session: SessionDep, principal: Instructor
) -> FeedbackReleaseRead:
    """Sets when students and integrations see scores and feedback for this question.

    Who: instructor of the question's course, or admin. `immediately` (default), `after_close`
    (from `close_at`, which needs a timezone offset) or `manual` (when you call
    `.../feedback-release/release`). Choosing a mode withdraws an earlier release. Instructors
    always see everything.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    release.set_release(
        session, question, mode=release.ReleaseMode(body.mode), close_at=body.close_at
    )
    return release.present_release(question, utcnow())


@router.post(
    "/{question_id}/feedback-release/release",
    response_model=FeedbackReleaseRead,
    summary="Release the question's feedback now (instructor)",
    responses=NOT_FOUND,
)
def release_feedback(
    question_id: QuestionId, session: SessionDep, principal: Instructor
) -> FeedbackReleaseRead:
    """Releases the question's scores and feedback now (mode `manual`, or early for
    `after_close`).

    Who: instructor of the question's course, or admin. From this moment feedback links and
    integrations show points and feedback.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    release.release_now(session, question)
    return release.present_release(question, utcnow())
