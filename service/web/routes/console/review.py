"""The review queue and one submission's page: read the evidence, accept the machine score
or override it with a reason (the same audited override as the API), then the next one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.api.deps import SessionDep
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import OverrideCreate
from service.domain.submissions import service as submission_service
from service.domain.submissions.presenters import present_submission
from service.domain.submissions.schemas import ResultRead, SubmissionFilter, SubmissionRead
from service.errors import DomainError
from service.web.deps import ConsoleSession
from service.web.errors import error_page
from service.web.i18n import gettext as _
from service.web.routes.console.forms import points_error
from service.web.templating import render
from service.web.views import Bar, Segment, highlight

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 25
ACCEPTED_REASON = "Accepted the machine score after review."
ReviewChoice = Literal["yes", "no", "any"]


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters as the form and the links carry them."""

    question_id: str = ""
    learner_id: str = ""
    needs_review: ReviewChoice = "yes"
    status: str = ""

    def domain(self) -> SubmissionFilter:
        return SubmissionFilter(
            question_id=self.question_id or None,
            learner_id=self.learner_id or None,
            needs_review={"yes": True, "no": False, "any": None}[self.needs_review],
            status=self.status or None,
            sort="-created_at",
        )

    def query(self, **extra: str) -> str:
        values = {
            "question_id": self.question_id,
            "learner_id": self.learner_id,
            "needs_review": self.needs_review,
            "status": self.status,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})


def _filters(
    question_id: str, learner_id: str, needs_review: str, status: str
) -> tuple[QueueFilters, dict[str, str]]:
    errors: dict[str, str] = {}
    choice: ReviewChoice = "yes"
    if needs_review in ("yes", "no", "any"):
        choice = needs_review  # type: ignore[assignment]
    else:
        errors["needs_review"] = _("Choose yes, no or any.")
    filters = QueueFilters(question_id.strip(), learner_id.strip(), choice, status)
    try:
        filters.domain()
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "question_id"
            errors[field] = _("This value is not valid here.")
        filters = QueueFilters(needs_review=choice)
    return filters, errors


FilterText = Annotated[str, Query(max_length=300)]


@router.get("/review", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    question_id: FilterText = "",
    learner_id: FilterText = "",
    needs_review: FilterText = "yes",
    status: FilterText = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    filters, errors = _filters(question_id, learner_id, needs_review, status)
    principal = active.principal
    page = submission_service.list_submissions(
        session,
        filters=filters.domain(),
        cursor=cursor if not errors else None,
        limit=PAGE_SIZE,
        scope=principal.submission_scope,
    )
    rows = [present_submission(s, full=True) for s in page.items]
    return render(
        request,
        "console/review/queue.html",
        {
            "me": active,
            "nav": "review",
            "rows": rows,
            "filters": filters,
            "errors": errors,
            "next_url": f"/console/review?{filters.query(cursor=page.next_cursor)}"
            if page.next_cursor
            else None,
            "first_url": f"/console/review?{filters.query()}" if cursor else None,
            "statuses": ["", "scored", "pending", "error"],
        },
        status_code=422 if errors else 200,
    )


@dataclass(frozen=True)
class CriterionView:
    number: int
    id: str
    description: str
    met: bool
    matched_phrasing: str | None
    words: list[str]
    feedback: str


def _criteria(result: ResultRead | None) -> list[CriterionView]:
    if result is None:
        return []
    return [
        CriterionView(
            number=index,
            id=c.id,
            description=c.description,
            met=c.met,
            matched_phrasing=c.matched_phrasing,
            words=c.matched_words,
            feedback=c.feedback,
        )
        for index, c in enumerate(result.criteria, start=1)
    ]


def _segments(submission: SubmissionRead) -> list[Segment]:
    result = submission.result
    if not isinstance(result, ResultRead):
        return [Segment(submission.answer)]
    spans = [[(s.start, s.end) for s in c.spans] if c.met else [] for c in result.criteria]
    return highlight(submission.answer, spans)


def _next_in_queue(
    session: SessionDep, active: Any, submission: Any, filters: QueueFilters
) -> uuid.UUID | None:
    domain = filters.domain()
    after = submission_service.encode_cursor(submission, domain.sort)
    page = submission_service.list_submissions(
        session, filters=domain, cursor=after, limit=1, scope=active.principal.submission_scope
    )
    return page.items[0].id if page.items else None


def _submission_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    submission_id: uuid.UUID,
    filters: QueueFilters,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    row = submission_service.get_submission(
        session, submission_id, scope=active.principal.submission_scope
    )
    submission = present_submission(row, full=True)
    overrides = [
        review_service.present_override(o)
        for o in review_service.list_overrides(
            session, submission_id=submission_id, principal=active.principal
        )
    ]
    following = _next_in_queue(session, active, row, filters)
    result = submission.result if isinstance(submission.result, ResultRead) else None
    return render(
        request,
        "console/review/submission.html",
        {
            "me": active,
            "nav": "review",
            "s": submission,
            "prompt": row.question.prompt,
            "question_title": row.question.title,
            "result": result,
            "criteria": _criteria(result),
            "segments": _segments(submission),
            "bar": Bar(submission.points, submission.max_points)
            if submission.points is not None and submission.max_points
            else None,
            "overrides": overrides,
            "filters": filters,
            "queue_query": filters.query(),
            "next_url": (
                f"/console/submissions/{following}?{filters.query()}" if following else None
            ),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    submission_id: uuid.UUID,
    question_id: FilterText = "",
    learner_id: FilterText = "",
    needs_review: FilterText = "yes",
    status: FilterText = "",
) -> HTMLResponse:
    filters, _errors = _filters(question_id, learner_id, needs_review, status)
    return _submission_page(request, session, active, submission_id, filters)


FormText = Annotated[str, Form(max_length=300)]


@router.post("/submissions/{submission_id}/score", response_model=None)
def score(
    request: Request,
    session: SessionDep,
    active: ConsoleSession,
    submission_id: uuid.UUID,
    action: Annotated[str, Form(max_length=20)] = "override",
    points: FormText = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    question_id: FormText = "",
    learner_id: FormText = "",
    needs_review: FormText = "yes",
    status: FormText = "",
) -> Response:
    """Accept (an override with the machine's points, so the review is on the audit trail)
    or override; then on to the next answer in the queue."""
    filters, _errors = _filters(question_id, learner_id, needs_review, status)
    row = submission_service.get_submission(
        session, submission_id, scope=active.principal.submission_scope
    )
    errors: dict[str, str] = {}
    if action == "accept":
        if row.machine_points is None:
            return error_page(request, 422, _("There is no machine score to accept yet."))
        body: dict[str, Any] = {"points": row.machine_points, "reason": ACCEPTED_REASON}
    else:
        body = {"points": points.strip(), "reason": reason}
        if (problem := points_error(points)) is not None:
            errors["points"] = problem
        if not reason.strip():
            errors["reason"] = _("Say why you change the score: it is kept in the audit trail.")
    if not errors:
        try:
            review_service.create_override(
                session,
                submission_id=submission_id,
                body=OverrideCreate.model_validate(body),
                principal=active.principal,
            )
        except ValidationError:
            errors["points"] = _("These points or this reason cannot be stored.")
        except DomainError as exc:
            if exc.status_code != 422:
                raise
            errors["points"] = str(exc)
    if errors:
        session.rollback()
        return _submission_page(
            request,
            session,
            active,
            submission_id,
            filters,
            errors=errors,
            values={"points": points, "reason": reason},
            status_code=422,
        )
    following = _next_in_queue(session, active, row, filters)
    target = (
        f"/console/submissions/{following}?{filters.query()}"
        if following
        else f"/console/review?{filters.query(done='1')}"
    )
    return RedirectResponse(target, status_code=303)
