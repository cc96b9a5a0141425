from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.deps import GradersDep, SessionDep
from service.api.problems import ProblemDetail
from service.domain.submissions import service as submission_service
from service.domain.submissions.presenters import present_submission
from service.domain.submissions.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SubmissionCreate,
    SubmissionPage,
    SubmissionRead,
)
from service.domain.validation import PRINTABLE_PATTERN, SLUG_PATTERN

router = APIRouter(prefix="/v1/submissions", tags=["submissions"])

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ProblemDetail, "description": "Unknown question or submission"},
    413: {"model": ProblemDetail, "description": "Request body too large"},
    422: {"model": ProblemDetail, "description": "Invalid request; `errors` lists each field"},
    503: {"model": ProblemDetail, "description": "Database unavailable; retry after a pause"},
}


@router.post(
    "",
    status_code=201,
    response_model=SubmissionRead,
    summary="Submit an answer; it is scored at once",
    responses={
        202: {"model": SubmissionRead, "description": "Stored, but scoring is pending"},
        **_ERRORS,
    },
)
def create_submission(
    body: SubmissionCreate, session: SessionDep, graders: GradersDep, response: Response
) -> SubmissionRead:
    submission = submission_service.create_submission(session, graders=graders, body=body)
    if submission.status != "scored":
        response.status_code = 202
    return present_submission(submission)


@router.get(
    "", response_model=SubmissionPage, summary="List submissions, newest first", responses=_ERRORS
)
def list_submissions(
    session: SessionDep,
    question_id: Annotated[str | None, Query(max_length=64, pattern=SLUG_PATTERN)] = None,
    learner_id: Annotated[str | None, Query(max_length=255, pattern=PRINTABLE_PATTERN)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> SubmissionPage:
    page = submission_service.list_submissions(
        session, question_id=question_id, learner_id=learner_id, cursor=cursor, limit=limit
    )
    return SubmissionPage(
        items=[present_submission(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{submission_id}",
    response_model=SubmissionRead,
    summary="Get one submission",
    responses=_ERRORS,
)
def get_submission(submission_id: uuid.UUID, session: SessionDep) -> SubmissionRead:
    return present_submission(submission_service.get_submission(session, submission_id))
