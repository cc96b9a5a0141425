from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.deps import SessionDep, SettingsDep
from service.api.problems import ProblemDetail
from service.api.routers.common import NOT_FOUND
from service.db.base import utcnow
from service.domain.submissions import release
from service.domain.submissions import service as submission_service
from service.domain.submissions.presenters import present_feedback
from service.domain.submissions.schemas import FeedbackRead

router = APIRouter(prefix="/v1/feedback", tags=["students"])


@router.get(
    "/{token}",
    response_model=FeedbackRead,
    summary="A student's own score and feedback (no key: the link is the credential)",
    responses={
        **NOT_FOUND,
        410: {"model": ProblemDetail, "description": "The link has expired"},
    },
)
def get_feedback(
    token: Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    session: SessionDep,
    settings: SettingsDep,
) -> FeedbackRead:
    """Before the question releases feedback, only that the answer was received."""
    now = utcnow()
    submission = submission_service.get_by_feedback_token(
        session, token, ttl_days=settings.feedback_link_ttl_days, now=now
    )
    shown = release.shows_results(submission.question, principal=None, now=now)
    return present_feedback(submission, prompt=submission.question.prompt, released=shown)
