"""The pilot: grade the answers it proposes until the question can be calibrated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.deps import Instructor, SessionDep
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND, problems
from service.domain.pilot import service as pilot_service
from service.domain.pilot.schemas import PilotGradeCreate, PilotRead
from service.domain.questions import service as question_service
from service.domain.validation import SLUG_PATTERN

router = APIRouter(prefix="/v1/questions", tags=["pilot"], responses=AUTH_ERRORS)

QuestionId = Annotated[str, Path(max_length=64, pattern=SLUG_PATTERN)]


@router.get(
    "/{question_id}/pilot",
    response_model=PilotRead,
    summary="The pilot: the next answer to grade and the agreement so far (instructor)",
    responses=NOT_FOUND,
)
def get_pilot(question_id: QuestionId, session: SessionDep, principal: Instructor) -> PilotRead:
    """Proposes the next answer to grade, chosen among the question's newest 500 scored
    answers to improve the calibration most (unsure machine scores, answer groups and parts
    of the range nobody graded yet), and reports the agreement so far between the machine and
    every teacher grade of the question (overrides); changes nothing.

    Who: instructor of the question's course, or admin. `next` is null when every answer
    considered is graded; `calibrated` is the current rubric version's calibration, if any.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    return pilot_service.state(session, question)


@router.post(
    "/{question_id}/pilot/grades",
    response_model=PilotRead,
    summary="Grade one answer in the pilot; calibrates once agreement is established (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("unprocessable", "wrong_question", "not_scored"),
)
def grade(
    question_id: QuestionId, body: PilotGradeCreate, session: SessionDep, principal: Instructor
) -> PilotRead:
    """Records the teacher's points for one answer of the question as an override (audited,
    with the reason, or "Graded in the pilot." without one; integrations are told as for any
    override) and answers the pilot's new state.

    Who: instructor of the question's course, or admin. When this grade makes the agreement
    established and the current rubric version has no calibration, the question is
    calibrated from its teacher grades (a new rubric version, `calibrated_now` true); rescore
    to apply it to answers already scored. 422 `wrong_question` for an answer of another
    question, `not_scored` for one without a machine score, `unprocessable` for points above
    the maximum.
    """
    question = question_service.get_question(session, principal.scope, question_id)
    return pilot_service.grade(session, question, body, principal=principal)
