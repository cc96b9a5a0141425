from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.responses import HTMLResponse

from service.api.deps import SessionDep, SettingsDep
from service.api.problems import ProblemDetail
from service.api.routers.common import NOT_FOUND, problems
from service.db.base import utcnow
from service.domain.submissions import release
from service.domain.submissions import service as submission_service
from service.domain.submissions.presenters import present_feedback
from service.domain.submissions.schemas import FeedbackRead
from service.web.routes.feedback import frame_origins, render_feedback
from service.web.security import wants_html

router = APIRouter(prefix="/v1/feedback", tags=["students"])


@router.get(
    "/{token}",
    response_model=FeedbackRead,
    summary="A student's own score and feedback (no key: the link is the credential)",
    responses={
        **NOT_FOUND,
        410: {"model": ProblemDetail, "description": "The link has expired"},
        200: {"content": {"text/html": {}}, "description": "JSON, or the page for a browser"},
    },
    openapi_extra=problems("feedback_link_expired", "rate_limited"),
)
def get_feedback(
    request: Request,
    response: Response,
    token: Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    session: SessionDep,
    settings: SettingsDep,
) -> FeedbackRead | HTMLResponse:
    """A student's own score and feedback; changes nothing.

    Who: anyone holding the link (no key: the link is the credential, and unknown links count as
    failed credentials, rate limited per address). Before the question releases feedback, only
    that the answer was received. A browser (`Accept: text/html`) gets the student's feedback
    page; programs get JSON. 410 `feedback_link_expired` after the link's lifetime.
    """
    now = utcnow()
    submission = submission_service.get_by_feedback_token(
        session, token, ttl_days=settings.feedback_link_ttl_days, now=now
    )
    shown = release.shows_results(submission.question, principal=None, now=now)
    feedback = present_feedback(submission, prompt=submission.question.prompt, released=shown)
    if wants_html(request.headers.get("accept")):
        return render_feedback(
            request,
            feedback,
            language=submission.question.language,
            frame_ancestors=frame_origins(session, submission, settings),
        )
    # The same URL answers a page or JSON: shared caches must keep them apart.
    response.headers["vary"] = "Accept"
    return feedback
