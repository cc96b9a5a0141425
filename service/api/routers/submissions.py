from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy.orm import Session

from service.api import links, ratelimit
from service.api.deps import GradersDep, Instructor, Integration, Reader, SessionDep, SettingsDep
from service.api.problems import ProblemDetail
from service.api.routers.common import AUTH_ERRORS, NOT_FOUND, problems
from service.config import Settings
from service.db.base import utcnow
from service.db.models import Submission
from service.domain.access.principal import Principal
from service.domain.idempotency import service as idempotency
from service.domain.reviews import service as review_service
from service.domain.reviews.schemas import OverrideCreate, OverrideList, OverrideRead
from service.domain.submissions import batch as batch_service
from service.domain.submissions import release
from service.domain.submissions import service as submission_service
from service.domain.submissions.presenters import feedback_url_of, present_submission
from service.domain.submissions.schemas import (
    FeedbackLinkRead,
    SubmissionCreate,
    SubmissionFilter,
    SubmissionListQuery,
    SubmissionPage,
    SubmissionRead,
)
from service.worker import scoring_policy

router = APIRouter(prefix="/v1/submissions", tags=["submissions"], responses=AUTH_ERRORS)

MAX_BATCH_ITEMS = 500

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key: a retry with the same key and body returns the "
        "original response and creates nothing.",
    ),
]


def public_base_url(request: Request, settings: SettingsDep) -> str:
    # Never the raw Host header: see service/api/links.py.
    return links.public_base_url(request, settings)


def _present(
    submission: Submission, principal: Principal, base_url: str | None = None
) -> SubmissionRead:
    """Staff see the full breakdown; integrations the student-safe view, and points and
    results only once the question releases them."""
    shown = release.shows_results(submission.question, principal=principal, now=utcnow())
    return present_submission(
        submission, base_url=base_url, full=principal.is_staff, released=shown
    )


def _submission_ids(body: Any) -> list[str]:
    """The submissions a single or batch response names (kept beside the sealed response,
    so a learner's deletion finds the record without reading it)."""
    if "items" in body:
        return [item["submission"]["id"] for item in body["items"] if item.get("submission")]
    return [body["id"]] if "id" in body else []


def _request_hash(request: Request, body: BaseModel) -> str:
    return idempotency.fingerprint("POST", request.url.path, body.model_dump_json())


def _respond(outcome: idempotency.Outcome) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(
        outcome.content,
        status_code=outcome.status_code,
        headers=headers,
        media_type="application/json",
    )


def _run_idempotent(
    session: Session,
    principal: Principal,
    key: str | None,
    request: Request,
    body: BaseModel,
    action: Callable[[], tuple[int, Any]],
    settings: Settings,
) -> Response:
    """Run ``action`` once per Idempotency-Key; a replay answers the original response,
    byte for byte."""
    outcome = idempotency.run(
        session,
        owner_id=submission_service.idempotency_owner(principal),
        key=key,
        request_hash=_request_hash(request, body),
        ttl=timedelta(days=settings.idempotency_ttl_days),
        action=action,
        subjects=_submission_ids,
    )
    return _respond(outcome)


@router.post(
    "",
    status_code=201,
    response_model=SubmissionRead,
    summary="Submit an answer; it is scored at once (integration)",
    responses={
        202: {"model": SubmissionRead, "description": "Stored, but scoring is pending"},
        413: {"model": ProblemDetail, "description": "Request body too large"},
        **NOT_FOUND,
    },
    openapi_extra=problems("idempotency_key_reused", "conflict"),
)
def create_submission(
    body: SubmissionCreate,
    request: Request,
    session: SessionDep,
    graders: GradersDep,
    settings: SettingsDep,
    principal: Integration,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Stores a learner's answer and scores it at once: 201 with the score, or 202 when
    scoring is pending (the worker retries it).

    Who: integration key (or admin). Stores a submission, its grading result and a feedback link
    (`feedback_url`, shown in this response only). A repeat of the same `external_id` returns
    the first submission, never a second grade; with `Idempotency-Key` a retry replays the
    original response byte for byte (`Idempotent-Replayed: true`).
    """
    base_url = public_base_url(request, settings)

    def render(submission: Submission) -> bytes:
        # Serialised once: these bytes are the response, and what a replay answers.
        return _present(submission, principal, base_url).model_dump_json().encode()

    outcome = submission_service.submit_once(
        session,
        graders=graders,
        body=body,
        principal=principal,
        policy=scoring_policy(settings),
        idempotency_key=idempotency_key,
        request_hash=_request_hash(request, body),
        ttl=timedelta(days=settings.idempotency_ttl_days),
        render=render,
    )
    return _respond(outcome)


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_BATCH_CREATE_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "question_id": "photosynthesis-1",
                "learner_id": "moodle-user-4822",
                "answer": "They make sugar.",
            },
            {"question_id": "photosynthesis-1", "learner_id": "moodle-user-4823", "answer": ""},
        ]
    }
]


class BatchCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _BATCH_CREATE_EXAMPLES}, extra="forbid"
    )

    items: Annotated[
        list[Any],
        Field(
            min_length=1, max_length=MAX_BATCH_ITEMS, description="Each like POST /v1/submissions."
        ),
    ]


class BatchItemResult(BaseModel):
    index: int
    status: int = Field(description="201 scored, 202 pending, or the item's error status.")
    submission: SubmissionRead | None = None
    error: ProblemDetail | None = None


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_BATCH_RESULT_EXAMPLES: list[JsonValue] = [
    {
        "created": 1,
        "failed": 1,
        "items": [
            {
                "index": 0,
                "status": 201,
                "submission": {
                    "id": "fb9076db-4b7b-4d4e-a5aa-c3a05f173879",
                    "question_id": "photosynthesis-1",
                    "learner_id": "moodle-user-4822",
                    "answer": "They make sugar.",
                    "status": "scored",
                    "created_at": "2026-12-02T15:08:37.242577Z",
                    "points": 3.5,
                    "max_points": 5.0,
                    "overridden": False,
                    "needs_review": False,
                    "result": {
                        "view": "student",
                        "points": 3.5,
                        "max_points": 5.0,
                        "score": 0.7,
                        "needs_review": False,
                        "summary": "You scored 3.5 out of 5 and covered 1 of 1 key ideas.",
                        "covered": [
                            {
                                "feedback": "You named the products.",
                                "your_words": [{"start": 10, "end": 15, "text": "sugar"}],
                            }
                        ],
                        "missed": [],
                        "advisories": [],
                        "rubric_version": 2,
                        "scorer_version": "2.4.0",
                        "scored_at": "2026-12-02T15:08:37.242897Z",
                    },
                    "feedback_url": "https://grader.riverside.example/v1/feedback/b3B0ebLGRgSeaMukmClFxaerEvHTcKHoecoC_FejO1s",
                    "message": None,
                    "feedback_released": True,
                    "scoring_error": None,
                },
                "error": None,
            },
            {
                "index": 1,
                "status": 422,
                "submission": None,
                "error": {
                    "type": "https://grader.example.org/problems/validation-error",
                    "title": "Invalid request",
                    "status": 422,
                    "detail": "answer: String should have at least 1 character",
                    "code": "validation_error",
                    "instance": None,
                    "errors": [
                        {"field": "answer", "message": "String should have at least 1 character"}
                    ],
                },
            },
        ],
    }
]


class BatchResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _BATCH_RESULT_EXAMPLES})

    created: int
    failed: int
    items: list[BatchItemResult]


@router.post(
    "/batch",
    response_model=BatchResult,
    summary=f"Submit up to {MAX_BATCH_ITEMS} answers; bad items are reported, good ones stored",
    openapi_extra=problems("idempotency_key_reused", "conflict"),
)
def create_batch(
    body: BatchCreate,
    request: Request,
    session: SessionDep,
    graders: GradersDep,
    settings: SettingsDep,
    principal: Integration,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Stores and scores up to 500 answers in one request; each item is reported on its own.

    Who: integration key (or admin). Good items are stored (201 scored, 202 pending), bad ones
    reported with their problem, and nothing else changes; the answer is 200 even when some
    items fail. Each item counts against the key's rate limit like a single submission.
    """
    base_url = public_base_url(request, settings)

    def action() -> tuple[int, Any]:
        # Each item is scored like a single submission, so it costs like one (inside the
        # action: a replay does no work and costs one request; a refusal stores nothing).
        ratelimit.charge_items(request, principal, len(body.items))
        outcomes = batch_service.submit_batch(
            session, graders=graders, principal=principal, items=body.items
        )
        results = [
            BatchItemResult(
                index=outcome.index,
                status=outcome.status,
                submission=(
                    _present(outcome.submission, principal, base_url)
                    if outcome.submission is not None
                    else None
                ),
                error=ProblemDetail.model_validate(outcome.error) if outcome.error else None,
            )
            for outcome in outcomes
        ]
        created = sum(1 for r in results if r.status in (201, 202))
        batch = BatchResult(created=created, failed=len(results) - created, items=results)
        return 200, batch.model_dump(mode="json")

    return _run_idempotent(session, principal, idempotency_key, request, body, action, settings)


@router.get(
    "",
    response_model=SubmissionPage,
    summary="List and filter submissions",
    openapi_extra=problems("invalid_cursor"),
)
def list_submissions(
    session: SessionDep,
    principal: Reader,
    query: Annotated[SubmissionListQuery, Query()],
) -> SubmissionPage:
    """Lists and filters submissions, newest first, a page at a time (`next_cursor`);
    changes nothing.

    Who: instructor (its courses' submissions), admin (the organisation's) or integration (only
    those it posted). `needs_review=true` is the review queue.
    """
    filters = SubmissionFilter.model_validate(query.model_dump(exclude={"cursor", "limit"}))
    page = submission_service.list_submissions(
        session,
        filters=filters,
        cursor=query.cursor,
        limit=query.limit,
        scope=principal.submission_scope,
    )
    return SubmissionPage(
        items=[_present(s, principal) for s in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{submission_id}",
    response_model=SubmissionRead,
    summary="Get one submission",
    responses=NOT_FOUND,
)
def get_submission(
    submission_id: uuid.UUID, session: SessionDep, principal: Reader
) -> SubmissionRead:
    """Returns one submission with its score; changes nothing.

    Who: instructor, admin or the integration that posted it. Staff see the full breakdown,
    integrations the student-safe view once feedback is released. `feedback_url` is null here:
    only the response that issued a link shows it.
    """
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    return _present(submission, principal)


@router.post(
    "/{submission_id}/feedback-link",
    status_code=201,
    response_model=FeedbackLinkRead,
    summary="Issue a new feedback link; the old one stops working (instructor, or the "
    "integration that posted it)",
    responses=NOT_FOUND,
)
def create_feedback_link(
    submission_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
) -> FeedbackLinkRead:
    """Issues a new feedback link for the submission; the old one stops working.

    Who: instructor of the course, admin, or the integration that posted it. The new URL is
    shown in this response only: the service keeps a hash of it.
    """
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    submission_service.reissue_feedback_link(session, submission)
    feedback_url = feedback_url_of(submission, public_base_url(request, settings))
    # Both were set by the reissue above.
    assert feedback_url is not None
    assert submission.feedback_token_issued_at is not None
    return FeedbackLinkRead(
        submission_id=submission.id,
        feedback_url=feedback_url,
        issued_at=submission.feedback_token_issued_at,
        expires_at=submission_service.feedback_link_expires_at(
            submission, settings.feedback_link_ttl_days
        ),
    )


@router.delete(
    "/{submission_id}/feedback-link",
    status_code=204,
    summary="Revoke the feedback link: it answers 404 from now on (instructor)",
    responses=NOT_FOUND,
)
def revoke_feedback_link(
    submission_id: uuid.UUID, session: SessionDep, principal: Instructor
) -> Response:
    """Revokes the submission's feedback link: it answers 404 from now on.

    Who: instructor of the course, or admin. Issue a new one with `POST .../feedback-link`.
    """
    submission = submission_service.get_submission(
        session, submission_id, scope=principal.submission_scope
    )
    submission_service.revoke_feedback_link(session, submission)
    return Response(status_code=204)


@router.post(
    "/{submission_id}/overrides",
    status_code=201,
    response_model=OverrideRead,
    summary="Override the score, with a reason (instructor)",
    responses=NOT_FOUND,
    openapi_extra=problems("unprocessable"),
)
def create_override(
    submission_id: uuid.UUID, body: OverrideCreate, session: SessionDep, principal: Instructor
) -> OverrideRead:
    """Overrides the submission's score with the instructor's points and a reason.

    Who: instructor of the course, or admin. Adds an override row (the machine score is never
    rewritten); the newest override is the effective score. 422 `unprocessable` when the
    points are above the question's maximum.
    """
    override = review_service.create_override(
        session, submission_id=submission_id, body=body, principal=principal
    )
    return review_service.present_override(override)


@router.get(
    "/{submission_id}/overrides",
    response_model=OverrideList,
    summary="The override audit trail, oldest first (instructor)",
    responses=NOT_FOUND,
)
def list_overrides(
    submission_id: uuid.UUID, session: SessionDep, principal: Instructor
) -> OverrideList:
    """Lists the submission's overrides, oldest first: the audit trail of who changed the
    score, when and why; changes nothing.

    Who: instructor of the course, or admin.
    """
    overrides = review_service.list_overrides(
        session, submission_id=submission_id, principal=principal
    )
    return OverrideList(items=[review_service.present_override(o) for o in overrides])


@router.post(
    "/{submission_id}/overrides/{override_id}/revert",
    status_code=201,
    response_model=OverrideRead,
    summary="Revert one override (instructor)",
    responses={
        **NOT_FOUND,
        409: {
            "model": ProblemDetail,
            "description": "Reverted already, or a newer one is in effect",
        },
    },
    openapi_extra=problems("unprocessable"),
)
def revert_override(
    submission_id: uuid.UUID,
    override_id: Annotated[int, Path(ge=1, le=2**62)],
    session: SessionDep,
    principal: Instructor,
) -> OverrideRead:
    """Undoes one override: the submission returns to the points it had before it (the
    override before it, else the machine score). The revert is a new row of the audit trail
    (`reverts_override_id` names the undone one); the integration's webhook
    (`submission.overridden`) and the LMS score are sent as for an override.

    Who: instructor of the course, or admin. 409 `conflict` when it was reverted already or a
    newer override is still in effect (revert that first); 422 `unprocessable` for a row
    that is itself a revert.
    """
    revert = review_service.revert_override(
        session, submission_id=submission_id, override_id=override_id, principal=principal
    )
    return review_service.present_override(revert)
